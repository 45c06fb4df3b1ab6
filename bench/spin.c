/* spin THREADS BUSY: THREADS threads, BUSY of them spinning, the others asleep; forever.  The
 * load of one container for bench/loadavg. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static void *busy(void *arg)
{
	volatile unsigned long n = 0;
	(void)arg;
	for (;;)
		n++;
	return NULL;
}

static void *idle(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 20, nbusy = argc > 2 ? atoi(argv[2]) : 10;
	for (int i = 1; i < threads; i++) {
		pthread_t t;
		pthread_create(&t, NULL, i <= nbusy ? busy : idle, NULL);
	}
	if (nbusy >= threads)
		busy(NULL);
	idle(NULL);
}
