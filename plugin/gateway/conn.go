package gateway

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// Transport defaults; the idle pool is sized for a few hundred concurrent
// requests per controller, and idle connections are dropped before a
// controller's own idle timeout (akka-http's is 60 s) would close them
// under a request.
const (
	dialTimeout         = 5 * time.Second
	idleConnTimeout     = 30 * time.Second
	maxIdleConnsPerHost = 512
)

// defaultTransport is like http.DefaultTransport without proxies or
// automatic compression (bodies and Content-Encoding pass unchanged), and
// with a dialer that counts the bytes written on each connection, which
// is how the gateway knows that a failed request never left (see attempt).
func defaultTransport() *http.Transport {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy: nil, // controllers are reached directly
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: c}, nil
		},
		ForceAttemptHTTP2:     false,
		MaxIdleConns:          4 * maxIdleConnsPerHost,
		MaxIdleConnsPerHost:   maxIdleConnsPerHost,
		IdleConnTimeout:       idleConnTimeout,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

// countingConn counts the bytes written to the connection.
type countingConn struct {
	net.Conn
	written atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// attempt follows one try of a request on one controller: which
// connection it got and how many bytes that connection had written then.
// When a try fails, wrote says whether any byte of it may have reached the
// controller. The Transport may switch connections within a try (it
// retries on a new one when nothing was written); the last one counts.
type attempt struct {
	conn  atomic.Pointer[countingConn]
	start atomic.Int64
	other atomic.Bool // a connection that does not count its bytes
	trace httptrace.ClientTrace
}

func newAttempt() *attempt {
	a := &attempt{}
	a.trace.GotConn = a.gotConn
	return a
}

func (a *attempt) gotConn(info httptrace.GotConnInfo) {
	c := info.Conn
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	cc, ok := c.(*countingConn)
	if !ok {
		a.other.Store(true)
		return
	}
	a.start.Store(cc.written.Load())
	a.conn.Store(cc)
	a.other.Store(false)
}

// wrote reports whether the try may have sent bytes: false only when it
// provably sent none (it got no connection, or its connection wrote
// nothing since it got it).
func (a *attempt) wrote() bool {
	if a.other.Load() {
		return true
	}
	c := a.conn.Load()
	return c != nil && c.written.Load() != a.start.Load()
}
