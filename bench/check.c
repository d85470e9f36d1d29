/* C libfcgi responders on the same threading model as durin-fcgi (8 threads, a
 * FCGX_Accept_r loop each), the ceilings durin is measured against:
 *
 *   check SOCKET                              the least a responder can do: 204
 *   check SOCKET REDIS_SOCKET TOKEN_KEY       what verify/ must do at the least: one
 *                                             hiredis HMGET of the token hash (a Redis
 *                                             connection per thread), 200 with the identity
 *
 * bench/run.sh uses the first, bench/cpu.sh the second (Redis password in REDISCLI_AUTH).
 */
#include <fcgiapp.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 8
static int listen_fd;
static const char *redis_socket, *token_key, *password;

static void *serve_204(void *arg) {
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

static void *serve_check(void *arg) {
    (void)arg;
    redisContext *redis = redisConnectUnix(redis_socket);
    if (!redis || redis->err) { fprintf(stderr, "redis: %s\n", redis ? redis->errstr : "no memory"); exit(1); }
    if (password) {
        redisReply *auth = redisCommand(redis, "AUTH %s", password);
        if (!auth || auth->type == REDIS_REPLY_ERROR) { fprintf(stderr, "redis AUTH failed\n"); exit(1); }
        freeReplyObject(auth);
    }
    FCGX_Request req;
    FCGX_InitRequest(&req, listen_fd, 0);
    char out[512];
    while (FCGX_Accept_r(&req) >= 0) {
        redisReply *r = redisCommand(redis, "HMGET %s u c t e i x w d", token_key);
        int n;
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2 && r->element[0]->type == REDIS_REPLY_STRING) {
            const char *user = r->element[0]->str, *client = r->element[1]->str;
            char body[256];
            int len = snprintf(body, sizeof body, "{\"user\":\"%s\",\"client\":\"%s\"}", user, client);
            n = snprintf(out, sizeof out,
                         "Status: 200 OK\r\nContent-Type: application/json\r\nX-Durin-User: %s\r\nX-Durin-Client: %s\r\n"
                         "Content-Length: %d\r\n\r\n%s", user, client, len, body);
        } else {
            n = snprintf(out, sizeof out, "Status: 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
        }
        if (r) freeReplyObject(r);
        FCGX_PutStr(out, n, req.out);
        FCGX_Finish_r(&req);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 4) { fprintf(stderr, "usage: %s SOCKET [REDIS_SOCKET TOKEN_KEY]\n", argv[0]); return 2; }
    if (argc == 4) {
        redis_socket = argv[2];
        token_key = argv[3];
        password = getenv("REDISCLI_AUTH");
    }
    FCGX_Init();
    listen_fd = FCGX_OpenSocket(argv[1], 1024);
    if (listen_fd < 0) { perror("FCGX_OpenSocket"); return 1; }
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, argc == 4 ? serve_check : serve_204, NULL);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    return 0;
}
