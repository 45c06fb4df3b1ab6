#include "fs/carry.h"

#include "lib/clock.h"

void carry_init(struct carry *c)
{
	pthread_mutex_init(&c->lock, NULL);
	c->n = 0;
}

/* Under the lock (n is read without it: stored whole). */
static void drop(struct carry *c, unsigned i)
{
	c->e[i] = c->e[c->n - 1];
	__atomic_store_n(&c->n, c->n - 1, __ATOMIC_RELEASE);
}

/* Under the lock: the notes past their deadline are dropped. */
static void expire(struct carry *c, uint64_t now)
{
	for (unsigned i = 0; i < c->n;)
		if (now > c->e[i].until_ms)
			drop(c, i);
		else
			i++;
}

void carry_put(struct carry *c, uint64_t id, uint32_t tries, uint64_t until_ms)
{
	pthread_mutex_lock(&c->lock);
	expire(c, mono_ms());
	unsigned i = 0;
	while (i < c->n && c->e[i].id != id)
		i++;
	if (i < c->n) {
		if (tries > c->e[i].tries)
			c->e[i].tries = tries;
		c->e[i].until_ms = until_ms;
	} else if (c->n < CARRY_MAX) {
		c->e[i].id = id;
		c->e[i].tries = tries;
		c->e[i].until_ms = until_ms;
		__atomic_store_n(&c->n, c->n + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&c->lock);
}

uint32_t carry_take(struct carry *c, uint64_t id)
{
	if (!__atomic_load_n(&c->n, __ATOMIC_ACQUIRE))
		return 0;
	uint32_t t = 0;
	pthread_mutex_lock(&c->lock);
	expire(c, mono_ms());
	for (unsigned i = 0; i < c->n; i++) {
		if (c->e[i].id == id) {
			t = c->e[i].tries;
			drop(c, i);
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return t;
}
