package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/directorysync/directorysync/internal/config"
)

// authenticator checks bearer tokens against their SHA-256 hashes. With no
// tokens configured every request is allowed (the server then listens on
// loopback only).
type authenticator struct {
	tokens []tokenEntry
}

type tokenEntry struct {
	hash [sha256.Size]byte
	all  bool
	orgs map[string]bool
}

// scope is what one request may see.
type scope struct {
	all  bool
	orgs map[string]bool
}

func (s scope) allows(org string) bool { return s.all || s.orgs[org] }

type scopeKey struct{}

func withScope(ctx context.Context, s scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, s)
}

func scopeFrom(ctx context.Context) scope {
	s, _ := ctx.Value(scopeKey{}).(scope)
	return s
}

// newAuthenticator reads the configured tokens; an env token whose variable
// is unset or empty is an error (a silently missing token would lock its
// holder out or, worse, be mistaken for "no auth").
func newAuthenticator(auth *config.Auth, getenv func(string) string) (*authenticator, error) {
	a := &authenticator{}
	if auth == nil {
		return a, nil
	}
	for i, t := range auth.Tokens {
		e := tokenEntry{orgs: map[string]bool{}}
		if t.SHA256 != "" {
			b, err := hex.DecodeString(t.SHA256)
			if err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("auth.tokens[%d].sha256 is not 64 hexadecimal digits", i)
			}
			copy(e.hash[:], b)
		} else {
			v := getenv(t.Env)
			if v == "" {
				return nil, fmt.Errorf("auth.tokens[%d]: environment variable %s is not set", i, t.Env)
			}
			e.hash = sha256.Sum256([]byte(v))
		}
		for _, o := range t.Orgs {
			if o == "*" {
				e.all = true
			}
			e.orgs[o] = true
		}
		a.tokens = append(a.tokens, e)
	}
	return a, nil
}

func (a *authenticator) enabled() bool { return len(a.tokens) > 0 }

// check returns the request's scope, or false when a token is required and
// the request has no valid one. Every configured hash is compared in
// constant time, so timing tells nothing about which one nearly matched.
func (a *authenticator) check(r *http.Request) (scope, bool) {
	if !a.enabled() {
		return scope{all: true}, true
	}
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return scope{}, false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(h[len(prefix):])))
	var found *tokenEntry
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], a.tokens[i].hash[:]) == 1 && found == nil {
			found = &a.tokens[i]
		}
	}
	if found == nil {
		return scope{}, false
	}
	return scope{all: found.all, orgs: found.orgs}, true
}

// isLoopback reports whether a listen address binds only loopback
// interfaces.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
