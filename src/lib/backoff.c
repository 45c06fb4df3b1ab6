#include "lib/backoff.h"

#include <stdbool.h>

unsigned backoff_failed(struct backoff *b, uint64_t now_ms)
{
	bool in_a_row = b->failed_ms && now_ms - b->failed_ms <= (uint64_t)b->wait_ms + b->most_ms;
	if (!in_a_row)
		b->wait_ms = b->first_ms;
	else if (b->wait_ms >= b->most_ms / 2)
		b->wait_ms = b->most_ms;
	else
		b->wait_ms *= 2;
	b->failed_ms = now_ms;
	return b->wait_ms;
}
