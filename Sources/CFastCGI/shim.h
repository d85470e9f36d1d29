#ifndef DURIN_CFASTCGI_SHIM_H
#define DURIN_CFASTCGI_SHIM_H
// libfcgi as Swift sees it. Only the FastCGI module imports this module.
#include <fcgiapp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

/// Fills a sockaddr_un; returns -1 when the path does not fit in sun_path.
static inline int durin_sockaddr_un(struct sockaddr_un *addr, const char *path) {
    size_t n = 0;
    while (path[n]) n++;
    if (n == 0 || n >= sizeof(addr->sun_path)) return -1;
    addr->sun_family = AF_UNIX;
    for (size_t i = 0; i <= n; i++) addr->sun_path[i] = path[i];
    return 0;
}

#endif
