/*
 * The agent's memory floor (make bench-collectd, docs/BENCHMARKS.md):
 * a program that links the agent's libraries (Debian's libmosquitto and,
 * through it, OpenSSL; libmodbus, cJSON, inih, glibc), calls each once as
 * the agent does at start, prints "ready" and waits for a signal.  Its
 * VmRSS is what any agent built on these packages has before its own
 * code, threads and units.
 */
#include <stdio.h>
#include <unistd.h>

#include <cJSON.h>
#include <ini.h>
#include <modbus.h>
#include <mosquitto.h>

static int no_key(void *user, const char *section, const char *key,
		  const char *value)
{
	(void)user;
	(void)section;
	(void)key;
	(void)value;
	return 1;
}

int main(void)
{
	struct mosquitto *mosq;
	modbus_t *bus;
	cJSON *obj;
	char *text;
	int rc = 1;

	mosquitto_lib_init();
	mosq = mosquitto_new("floor", true, NULL);
	bus = modbus_new_tcp("127.0.0.1", 1502);
	obj = cJSON_CreateObject();
	text = obj ? cJSON_PrintUnformatted(obj) : NULL;
	if (mosq && bus && text && ini_parse_string("[a]\nb = c\n", no_key,
						    NULL) == 0) {
		puts("ready");
		fflush(stdout);
		pause();
		rc = 0;
	}
	cJSON_free(text);
	cJSON_Delete(obj);
	if (bus)
		modbus_free(bus);
	mosquitto_destroy(mosq);
	mosquitto_lib_cleanup();
	return rc;
}
