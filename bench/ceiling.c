/* The FastCGI ceiling: the least a libfcgi responder can do (answer 204) with the
 * same threading model as durin-fcgi (8 threads, FCGX_Accept_r each). */
#include <fcgiapp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 8
static int listen_fd;

static void *serve(void *arg) {
    (void)arg;
    FCGX_Request req;
    FCGX_InitRequest(&req, listen_fd, 0);
    static const char answer[] = "Status: 204 No Content\r\n\r\n";
    while (FCGX_Accept_r(&req) >= 0) {
        FCGX_PutStr(answer, sizeof answer - 1, req.out);
        FCGX_Finish_r(&req);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s SOCKET\n", argv[0]); return 2; }
    FCGX_Init();
    listen_fd = FCGX_OpenSocket(argv[1], 1024);
    if (listen_fd < 0) { perror("FCGX_OpenSocket"); return 1; }
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, serve, NULL);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    return 0;
}
