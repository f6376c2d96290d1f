// x509-verify-go: checks a certificate chain with Go's crypto/x509, a second
// verifier written independently of OpenSSL, the way Go services (and the
// SPIFFE Go libraries) will see Mayfly's certificates.
//
// Usage: x509-verify-go ROOTS.pem CHAIN.pem
// ROOTS.pem holds the trust anchors; CHAIN.pem the leaf, then intermediates.
// Exits 0 when the leaf verifies for TLS server or client use, 1 otherwise.
package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no certificate", path)
	}
	return certs, nil
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: x509-verify-go ROOTS.pem CHAIN.pem")
		os.Exit(2)
	}
	roots, err := readCerts(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	chain, err := readCerts(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	opts := x509.VerifyOptions{
		Roots:         x509.NewCertPool(),
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, root := range roots {
		opts.Roots.AddCert(root)
	}
	for _, inter := range chain[1:] {
		opts.Intermediates.AddCert(inter)
	}
	chains, err := chain[0].Verify(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
		os.Exit(1)
	}
	last := chains[0][len(chains[0])-1]
	fmt.Printf("ok: %d chain(s), the first to %s\n", len(chains), last.Subject)
}
