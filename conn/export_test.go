package conn

// SendCloseNotifyBody exports sendCloseNotifyBody to the external tests
// (mux_frame_test.go), which drive a MultiConn over a real EncryptedConn.
var SendCloseNotifyBody = sendCloseNotifyBody
