/* http-misbehave: an HTTP server on 127.0.0.1 that misbehaves on demand,
 * for the faults nginx will not produce: stalls, drips, resets, lies
 * about lengths, endless bodies.
 *
 *     http-misbehave IMAGE STATEDIR
 *
 * listens on a free port of 127.0.0.1, prints the port on stdout, and
 * serves each connection in a child process. The path names the fault;
 * IMAGE (a real JPEG) is the body of the paths that send one. STATEDIR
 * holds a hit counter per path, for faults that clear after some tries
 * (/503-once, /truncated-once). Paths:
 *
 *   /ok.jpg             200, the image, with Content-Length
 *   /404 /410 /500      that status, an HTML body
 *   /503-retry-after    503 with "Retry-After: 1", every time
 *   /503-once           503 with "Retry-After: 1" on the first hit, then the image
 *   /429                429 with "Retry-After: 1", every time
 *   /retry-after-long   503 with "Retry-After: 3600"
 *   /loop               302 to itself
 *   /to-file            302 to file:///etc/passwd
 *   /placeholder        302 to /photo_unavailable.png, which is a PNG
 *   /png.png            200, a small whole PNG
 *   /html               200 text/html with an HTML page
 *   /html-as-jpeg       200 image/jpeg with an HTML page
 *   /png-as-jpeg        200 image/jpeg with a PNG body
 *   /empty              200 with Content-Length: 0
 *   /truncated-cl       Content-Length of the image, half of it, then close
 *   /truncated-nocl     no length, half the image, then close
 *   /truncated-once     the half, then the whole image on later hits
 *   /stall              reads the request, answers nothing
 *   /drip               headers, then one byte a second
 *   /endless            no length, bytes without end
 *   /huge               Content-Length: 100000000000, then the image
 *   /reset              reads the request, closes with a TCP reset
 *   /garbage            a reply that is not HTTP
 *
 * The server runs until killed; its children die with it. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const unsigned char png[] = {
	0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
	0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0x0f, 0x00, 0x00,
	0x01, 0x01, 0x01, 0x00, 0x18, 0xdd, 0x8d, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
	0xae, 0x42, 0x60, 0x82
};

static const char html[] = "<!DOCTYPE html>\n<html><head><title>Not here</title></head>"
			   "<body>This photo is no longer available.</body></html>\n";

static unsigned char *image;
static size_t image_len;
static const char *state_dir;

static void put(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(0);
		c += w;
		n -= (size_t)w;
	}
}

static void head(int fd, const char *status, const char *type, long long len, const char *extra)
{
	char buf[512];
	int n = snprintf(buf, sizeof buf, "HTTP/1.1 %s\r\nServer: misbehave\r\nContent-Type: %s\r\n%s", status,
			 type, extra ? extra : "");

	/* Every connection serves one request: say so, or a client would
	 * send its next request on a connection about to close. */
	if (len >= 0)
		n += snprintf(buf + n, sizeof buf - (size_t)n, "Content-Length: %lld\r\n", len);
	n += snprintf(buf + n, sizeof buf - (size_t)n, "Connection: close\r\n");
	n += snprintf(buf + n, sizeof buf - (size_t)n, "\r\n");
	put(fd, buf, (size_t)n);
}

static void reply(int fd, const char *status, const char *type, const void *body, size_t len, const char *extra)
{
	head(fd, status, type, (long long)len, extra);
	put(fd, body, len);
}

/* Counts a hit on a path; returns the count before this one. */
static long hits(const char *path)
{
	char file[4096];
	struct stat sb;
	int fd;

	snprintf(file, sizeof file, "%s/hits-%s", state_dir, path + 1);
	if ((fd = open(file, O_WRONLY | O_CREAT | O_APPEND, 0644)) < 0)
		return 0;
	fstat(fd, &sb);
	put(fd, "x", 1);
	close(fd);
	return (long)sb.st_size;
}

static void serve(int fd)
{
	char req[8192], path[1024];
	size_t got = 0;

	/* Reads the request head; the paths need nothing but its first line. */
	while (got < sizeof req - 1) {
		ssize_t n = read(fd, req + got, sizeof req - 1 - got);
		if (n <= 0)
			_exit(0);
		got += (size_t)n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	if (sscanf(req, "GET %1023s", path) != 1)
		_exit(0);

	if (strcmp(path, "/ok.jpg") == 0) {
		reply(fd, "200 OK", "image/jpeg", image, image_len, NULL);
	} else if (strcmp(path, "/404") == 0) {
		reply(fd, "404 Not Found", "text/html", html, sizeof html - 1, NULL);
	} else if (strcmp(path, "/410") == 0) {
		reply(fd, "410 Gone", "text/html", html, sizeof html - 1, NULL);
	} else if (strcmp(path, "/500") == 0) {
		reply(fd, "500 Internal Server Error", "text/html", html, sizeof html - 1, NULL);
	} else if (strcmp(path, "/503-retry-after") == 0) {
		reply(fd, "503 Service Unavailable", "text/html", html, sizeof html - 1, "Retry-After: 1\r\n");
	} else if (strcmp(path, "/503-once") == 0) {
		if (hits(path) == 0)
			reply(fd, "503 Service Unavailable", "text/html", html, sizeof html - 1, "Retry-After: 1\r\n");
		else
			reply(fd, "200 OK", "image/jpeg", image, image_len, NULL);
	} else if (strcmp(path, "/429") == 0) {
		reply(fd, "429 Too Many Requests", "text/html", html, sizeof html - 1, "Retry-After: 1\r\n");
	} else if (strcmp(path, "/retry-after-long") == 0) {
		reply(fd, "503 Service Unavailable", "text/html", html, sizeof html - 1, "Retry-After: 3600\r\n");
	} else if (strcmp(path, "/loop") == 0) {
		reply(fd, "302 Found", "text/html", "", 0, "Location: /loop\r\n");
	} else if (strcmp(path, "/to-file") == 0) {
		reply(fd, "302 Found", "text/html", "", 0, "Location: file:///etc/passwd\r\n");
	} else if (strcmp(path, "/placeholder") == 0) {
		reply(fd, "302 Found", "text/html", "", 0, "Location: /photo_unavailable.png\r\n");
	} else if (strcmp(path, "/photo_unavailable.png") == 0 || strcmp(path, "/png.png") == 0) {
		reply(fd, "200 OK", "image/png", png, sizeof png, NULL);
	} else if (strcmp(path, "/html") == 0) {
		reply(fd, "200 OK", "text/html", html, sizeof html - 1, NULL);
	} else if (strcmp(path, "/html-as-jpeg") == 0) {
		reply(fd, "200 OK", "image/jpeg", html, sizeof html - 1, NULL);
	} else if (strcmp(path, "/png-as-jpeg") == 0) {
		reply(fd, "200 OK", "image/jpeg", png, sizeof png, NULL);
	} else if (strcmp(path, "/empty") == 0) {
		reply(fd, "200 OK", "image/jpeg", "", 0, NULL);
	} else if (strcmp(path, "/truncated-cl") == 0) {
		head(fd, "200 OK", "image/jpeg", (long long)image_len, NULL);
		put(fd, image, image_len / 2);
	} else if (strcmp(path, "/truncated-nocl") == 0) {
		head(fd, "200 OK", "image/jpeg", -1, NULL);
		put(fd, image, image_len / 2);
	} else if (strcmp(path, "/truncated-once") == 0) {
		head(fd, "200 OK", "image/jpeg", -1, NULL);
		put(fd, image, hits(path) == 0 ? image_len / 2 : image_len);
	} else if (strcmp(path, "/stall") == 0) {
		sleep(30);
	} else if (strcmp(path, "/drip") == 0) {
		head(fd, "200 OK", "image/jpeg", (long long)image_len, NULL);
		for (size_t i = 0; i < 30 && i < image_len; i++) {
			put(fd, image + i, 1);
			sleep(1);
		}
	} else if (strcmp(path, "/endless") == 0) {
		static unsigned char zeros[65536];
		head(fd, "200 OK", "image/jpeg", -1, NULL);
		put(fd, image, 2);
		for (int i = 0; i < 100000; i++)
			put(fd, zeros, sizeof zeros);
	} else if (strcmp(path, "/huge") == 0) {
		head(fd, "200 OK", "image/jpeg", 100000000000LL, NULL);
		put(fd, image, image_len);
		sleep(30);
	} else if (strcmp(path, "/reset") == 0) {
		struct linger l = { 1, 0 };
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	} else if (strcmp(path, "/garbage") == 0) {
		put(fd, "SSH-2.0-OpenSSH_9.2\r\n\r\nnonsense\r\n", 32);
	} else {
		reply(fd, "404 Not Found", "text/html", html, sizeof html - 1, NULL);
	}
	close(fd);
	_exit(0);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof a;
	struct stat sb;
	int ls, one = 1, fd;

	if (argc != 3) {
		fprintf(stderr, "usage: http-misbehave IMAGE STATEDIR\n");
		return 2;
	}
	state_dir = argv[2];
	if ((fd = open(argv[1], O_RDONLY)) < 0 || fstat(fd, &sb) < 0 || !(image = malloc((size_t)sb.st_size))
	    || read(fd, image, (size_t)sb.st_size) != sb.st_size) {
		perror(argv[1]);
		return 1;
	}
	close(fd);
	image_len = (size_t)sb.st_size;
	signal(SIGCHLD, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 256) < 0
	    || getsockname(ls, (struct sockaddr *)&a, &alen) < 0) {
		perror("bind");
		return 1;
	}
	printf("%d\n", ntohs(a.sin_port));
	fflush(stdout);
	for (;;) {
		pid_t pid;
		if ((fd = accept(ls, NULL, NULL)) < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("accept");
			return 1;
		}
		if ((pid = fork()) == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 1)
				_exit(0);
			close(ls);
			serve(fd);
		}
		close(fd);
	}
}
