package crypto_test

import (
	"fmt"

	"github.com/peerwire/peerwire/crypto"
)

func ExampleParseAddress() {
	a, err := crypto.ParseAddress("21FE31DFA154A261626BF854046FD2271B7BED4B@[::ffff:10.0.0.1]:26656")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(a.ID.Short(), a.Host, a.Port)
	fmt.Println(a)

	_, err = crypto.ParseAddress("21fe31dfa154a261626bf854046fd2271b7bed4b@999.1.1.1:26656")
	fmt.Println(err)
	// Output:
	// 21fe31df 10.0.0.1 26656
	// 21fe31dfa154a261626bf854046fd2271b7bed4b@10.0.0.1:26656
	// crypto: address "21fe31dfa154a261626bf854046fd2271b7bed4b@999.1.1.1:26656": host "999.1.1.1" is neither an IP address nor a host name
}

func ExampleCipherState() {
	var key [crypto.KeySize]byte // from DeriveSessionKeys in real use
	send := crypto.NewCipherState(key, 1<<20)
	recv := crypto.NewCipherState(key, 1<<20)

	// Seal and open in place: buf has room for the tag, so nothing allocates.
	msg := "hello"
	buf := make([]byte, len(msg), len(msg)+crypto.TagSize)
	copy(buf, msg)
	ad := []byte{0, byte(len(msg) + crypto.TagSize)} // e.g. the frame length
	frame, _ := send.Seal(buf[:0], buf, ad)
	plain, err := recv.Open(frame[:0], frame, ad)
	fmt.Printf("%q %v %d\n", plain, err, recv.Count())

	// Both sides move to the next key together.
	send.Ratchet()
	recv.Ratchet()
	frame, _ = send.Seal(nil, []byte("after rekey"), nil)
	plain, err = recv.Open(nil, frame, nil)
	fmt.Printf("%q %v %d\n", plain, err, recv.Count())
	// Output:
	// "hello" <nil> 1
	// "after rekey" <nil> 1
}
