# Operating keel: the metrics endpoint (agent/keeld/metrics.c) serves HTTP
# with libmicrohttpd (libmicrohttpd-dev).
LDLIBS += -lmicrohttpd
