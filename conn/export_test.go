package conn

// SendCloseNotifyBody exports sendCloseNotifyBody to the external tests
// (mux_frame_test.go), which drive a MultiConn over a real EncryptedConn.
var SendCloseNotifyBody = sendCloseNotifyBody

// SetVersions makes c speak protocol versions lo to hi, so that the
// external tests can play a node of another version.
func SetVersions(c *SecureConfig, lo, hi uint16) { c.minVersion, c.maxVersion = lo, hi }
