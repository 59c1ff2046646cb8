/* SPDX-License-Identifier: GPL-2.0-only */
/* keeld's listening Unix sockets: the control socket and subsystems' own. */
#ifndef KEEL_UNIXSOCK_H
#define KEEL_UNIXSOCK_H

#include <sys/socket.h>
#include <sys/types.h>

/*
 * Listen on @path (non-blocking, close-on-exec), mode 0660, owned by root
 * and group @gid, with @backlog pending connections.  A socket file left
 * by a keeld that crashed is replaced; one that another process answers
 * on is not: -EADDRINUSE.  Returns the fd or a negative errno.
 */
int keel_unix_listen(const char *path, gid_t gid, int backlog);

/*
 * Accept one connection on @listen_fd (non-blocking, close-on-exec) and
 * fill @peer with its SO_PEERCRED credentials; when the kernel cannot say
 * who the peer is, @peer names nobody (uid and gid -1), so it is never
 * taken for a privileged client.  Returns the fd or a negative errno.
 */
int keel_unix_accept(int listen_fd, struct ucred *peer);

#endif /* KEEL_UNIXSOCK_H */
