package simtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// ClientCert is a self-signed client certificate, as an app owner uploads to Entra for
// the certificate-assertion flow.
type ClientCert struct {
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
	// CertPEM is the certificate; KeyPEM its PKCS#8 key.
	CertPEM, KeyPEM []byte
}

// PEM is the certificate followed by its key, as azidentity.ParseCertificates reads.
func (c ClientCert) PEM() []byte { return append(append([]byte{}, c.CertPEM...), c.KeyPEM...) }

// NewClientCert makes a fresh RSA 2048 certificate valid for a day.
func NewClientCert(t testing.TB) ClientCert {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "mtd-operator"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return ClientCert{Key: key, Cert: cert,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})}
}
