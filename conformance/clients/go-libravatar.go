// go-libravatar (strk.kbt.io/projects/go/libravatar, as Debian packages it) as a discovery
// client for the conformance suite's --client-cmd.
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o go-libravatar go-libravatar.go
//	avatar-conformance --group libravatar-discovery --client-cmd \
//	  './go-libravatar {nameserver} {scheme} --size={size} {identity} {again}'
//
// The library has no setter for the default image, so this takes no --default. Each identity
// given is looked up in this one process with one Libravatar value (its cache spans them), and
// its URL printed on a line of its own; an error the library returns is printed on standard
// error with exit status 1, as an application would see it. An identity with "://" in it is
// an OpenID. Only the nameserver is set here (Go's resolver, which net.LookupSRV uses), nothing
// of the library's own behaviour.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"strk.kbt.io/projects/go/libravatar"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: go-libravatar NAMESERVER SCHEME [--size=N] IDENTITY...")
		os.Exit(2)
	}
	nameserver, scheme := os.Args[1], os.Args[2]
	net.DefaultResolver = &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var dialer net.Dialer
			return dialer.DialContext(ctx, network, nameserver)
		},
	}
	avatars := libravatar.New()
	avatars.SetUseHTTPS(scheme == "https")
	var identities []string
	for _, word := range os.Args[3:] {
		if strings.HasPrefix(word, "--size=") {
			n, err := strconv.ParseUint(strings.TrimPrefix(word, "--size="), 10, 32)
			if err != nil {
				fmt.Fprintln(os.Stderr, "--size:", err)
				os.Exit(2)
			}
			avatars.SetAvatarSize(uint(n))
		} else {
			identities = append(identities, word)
		}
	}
	for _, identity := range identities {
		var url string
		var err error
		if strings.Contains(identity, "://") {
			url, err = avatars.FromURL(identity)
		} else {
			url, err = avatars.FromEmail(identity)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(url)
	}
}
