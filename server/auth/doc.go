// Package auth holds capd's bearer tokens: the token file that lists them
// by hash, the Principal a token stands for, and the scopes that say what
// a principal may do.
//
// # Tokens
//
// A token is a high-entropy random string, "capd_" and 43 base64url
// characters (32 random bytes), made by NewToken. The server never stores
// it: the token file holds the hex SHA-256 of each token. A slow password
// hash (bcrypt, argon2) protects guessable secrets; 256 random bits need no
// stretching, and a fast hash lets the server find a token by its hash in
// a map, so no comparison of secret bytes can leak timing.
//
// # The token file
//
//	version: 1
//	tokens:
//	  - name: ci-acme            # logged; [A-Za-z0-9._@-], at most 64
//	    sha256: 5e88…            # 64 lower-case hex digits
//	    scopes: [read, publish:acme]
//	  - name: ops
//	    sha256: 9f86…
//	    scopes: [admin]
//
// ParseTokens is strict: an unknown or duplicate field, a duplicate name or
// hash, a scope it does not know, a hash that is not 64 lower-case hex
// digits, anchors, aliases, tags, a second document or a file over
// MaxTokenFileSize are refused with an error that names the line, the
// entry and the field. AddToken appends an entry to a file's text and
// keeps its comments.
//
// # Scopes
//
//   - read: get, list, search, pull, render, resolve and download.
//   - publish:<namespace>: publish to, sign, yank and deprecate
//     capabilities named <namespace>/…; in the OCI API, push to and
//     delete plain content of repositories whose first path segment is
//     <namespace>. publish:* covers every name, and is the only scope that
//     covers names without a namespace. It does not include read, except
//     that the server lets a principal pull through /v2/ from the
//     repositories it may push to, as push clients check what a
//     repository holds before they push.
//   - admin: everything, including deleting capability versions.
//
// A nil *Principal is an anonymous caller: it may do nothing, and the
// server decides whether anonymous reads are allowed.
//
// # Errors
//
// Check fails with ErrUnauthenticated for an anonymous caller and with
// ErrPermissionDenied, naming the scope needed, for a principal without
// it; Tokens.Authenticate fails with ErrUnauthenticated for a credential
// it does not know. The server maps them to Unauthenticated and
// PermissionDenied, or in the OCI API to 401 and 403.
//
// # Reloading
//
// A Reloader holds a token file's Tokens and reads the file again on
// Reload (capd calls it on SIGHUP), swapping the whole set at once: a
// file that fails to read or parse changes nothing, and the error says
// so, naming the file and the line. A token removed from the file is
// refused by the first Authenticate after the Reload; what a caller was
// allowed to start before it, a stream say, is not taken back.
//
// # Caveats
//
// A token is only as secret as the channel it travels: without TLS it
// crosses the network in clear text. An error about a hash that is a
// token (it starts with TokenPrefix) does not repeat it: errors end up
// in logs.
package auth
