package daemon

import (
	"log/slog"
	"net"

	"golang.org/x/sys/unix"
)

// ownerOnly accepts a connection only from a process running as caned's
// own user (root on a node), checked with SO_PEERCRED: a second lock
// behind the socket's 0600 mode, should the mode ever be loosened.
type ownerOnly struct {
	net.Listener
	uid uint32
	log *slog.Logger
}

func (l ownerOnly) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, err := peerUID(c)
		if err == nil && uid == l.uid {
			return c, nil
		}
		l.log.Warn("refused a connection from another user", "uid", uid, "err", err)
		c.Close()
	}
}

// peerUID is the user of the process at the other end of a unix socket.
func peerUID(c net.Conn) (uint32, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, net.UnknownNetworkError(c.LocalAddr().Network())
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if credErr != nil {
		return 0, credErr
	}
	return cred.Uid, nil
}
