/*
 * What the agent tells the NOC about itself and about delivery: a refused
 * publish stays in the outbox and is not queued again at once, presence
 * sessions only grow (across a restart too), health republishes only on a
 * material change, a device whose units all fault is failing, and the
 * configuration hash follows the file's bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent_kit.h"
#include "config.h"
#include "health.h"
#include "outbox.h"
#include "vigie/err.h"
#include "vigie/log.h"

static struct agent_kit fx;

/* Two Modbus units on device 0, one manual unit. */
static int setup(void **state)
{
	(void)state;
	if (agent_kit_setup(&fx, "trust", 3) != VG_OK)
		return -1;
	fx.cfg.ndevices = 1;
	fx.cfg.units[2].manual = true;
	fx.cfg.units[2].device = -1;
	return 0;
}

/* Hand every queued record to a pretend broker: mids from *mid on. */
static int send_all(struct agent_outbox *ob, int *mid)
{
	return agent_kit_send_all(ob, mid, false);
}

static void refused_records_stay_and_wait_for_a_retry(void **state)
{
	struct agent_outbox ob;
	int mid = 0;

	(void)state;
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	for (int u = 0; u < 3; u++) /* read once: records on disk */
		assert_int_equal(agent_outbox_read_ok(&ob, u,
						      VG_STATE_PENDING), VG_OK);
	agent_outbox_birth(&ob);
	assert_int_equal(send_all(&ob, &mid), 3);
	for (int m = 1; m <= 3; m++)
		assert_int_equal(agent_outbox_refused(&ob, m, 0x87), m - 1);
	assert_int_equal(agent_outbox_refused(&ob, 99, 0x87), -1);
	assert_int_equal(agent_kit_unacked(&ob), 3);
	assert_int_equal(agent_outbox_refusal(&ob, 0), 0x87);
	assert_int_equal(agent_outbox_refused_count(&ob), 3);
	/* not queued again on this connection: no publish loop */
	assert_int_equal(send_all(&ob, &mid), 0);
	/* the slow retry queues them again, once */
	assert_int_equal(agent_outbox_retry_refused(&ob), 3);
	assert_int_equal(send_all(&ob, &mid), 3);
	assert_int_equal(agent_outbox_retry_refused(&ob), 0);
	/* accepted this time: delivered, no longer refused */
	agent_outbox_acked(&ob, mid);
	assert_int_equal(agent_outbox_refusal(&ob, 2), 0);
	assert_int_equal(agent_outbox_refused_count(&ob), 2);
	assert_int_equal(agent_kit_unacked(&ob), 2);
	agent_outbox_close(&ob);

	/* a restart keeps them in the outbox */
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	assert_int_equal(agent_kit_unacked(&ob), 2);
	agent_outbox_close(&ob);
}

static void a_new_record_is_not_refused_yet(void **state)
{
	struct agent_outbox ob;
	int64_t seq;
	int mid = 0;

	(void)state;
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	agent_outbox_birth(&ob);
	send_all(&ob, &mid);
	agent_outbox_refused(&ob, 3, 0x87);
	assert_int_equal(agent_outbox_mark(&ob, 2, VG_STATE_MIGRATED, "T-1",
					   NULL, &seq), VG_OK);
	assert_int_equal(agent_outbox_refusal(&ob, 2), 0);
	agent_outbox_close(&ob);
}

static void sessions_grow_across_restarts(void **state)
{
	struct agent_outbox ob;
	int64_t s1, s2, s3;

	(void)state;
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	s1 = agent_outbox_new_session(&ob);
	s2 = agent_outbox_new_session(&ob);
	assert_true(s2 > s1);
	agent_outbox_close(&ob);
	/* even a session file from the future wins over the clock */
	{
		char path[128];
		FILE *f;

		snprintf(path, sizeof(path), "%s/units/session", fx.dir);
		f = fopen(path, "w");
		assert_non_null(f);
		fprintf(f, "%lld\n", (long long)s2 + 86400000LL);
		fclose(f);
	}
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	s3 = agent_outbox_new_session(&ob);
	assert_true(s3 == s2 + 86400000LL + 1);
	agent_outbox_close(&ob);
}

static void a_device_whose_units_all_fault_is_failing(void **state)
{
	struct agent_outbox ob;
	struct vg_health h;

	(void)state;
	assert_int_equal(agent_outbox_open(&ob, &fx.cfg, fx.dir), VG_OK);
	agent_outbox_read_ok(&ob, 0, VG_STATE_PENDING);
	agent_outbox_read_fault(&ob, 1, "connection refused");
	assert_false(agent_outbox_device_failing(&ob, 0));
	vg_health_clear(&h);
	agent_outbox_health(&ob, 0, &h);
	assert_int_equal(h.devices_ok, 1);
	assert_int_equal(h.devices_failing, 0);
	agent_outbox_read_fault(&ob, 0, "connection refused");
	assert_true(agent_outbox_device_failing(&ob, 0));
	agent_outbox_health(&ob, 0, &h);
	assert_int_equal(h.devices_ok, 0);
	assert_int_equal(h.devices_failing, 1);
	assert_int_equal(h.outbox, 3);
	agent_outbox_close(&ob);
}

static void health_changes_only_materially(void **state)
{
	struct vg_health a, b;

	(void)state;
	vg_health_clear(&a);
	a.outbox = 3;
	a.oldest_unacked_s = 2;
	a.devices_ok = 2;
	a.devices_failing = 0;
	a.refused = 0;
	strcpy(a.config_hash, "00ff");
	b = a;
	assert_false(agent_health_material(&a, &b));
	b.outbox = 7;           /* same order of magnitude */
	b.oldest_unacked_s = 40; /* still under a minute */
	assert_false(agent_health_material(&a, &b));
	b.outbox = 0;
	assert_true(agent_health_material(&a, &b));
	b = a;
	b.oldest_unacked_s = 61;
	assert_true(agent_health_material(&a, &b));
	b = a;
	b.devices_failing = 1;
	assert_true(agent_health_material(&a, &b));
	b = a;
	b.refused = 1;
	assert_true(agent_health_material(&a, &b));
	a.refused = 4;
	b.refused = 9;
	assert_false(agent_health_material(&a, &b));
	b = a;
	strcpy(b.config_hash, "00fe");
	assert_true(agent_health_material(&a, &b));
}

static const char conf[] = "[site]\nid = a\nregion = 01\n[broker]\n";

static void config_hash_follows_the_bytes(void **state)
{
	struct agent_config c1, c2;
	char err[AGENT_ERR_MAX];

	(void)state;
	assert_int_equal(agent_config_parse(&c1, conf, "x", err, sizeof(err)),
			 VG_OK);
	assert_int_equal(strlen(c1.hash), 16);
	assert_int_equal(strspn(c1.hash, "0123456789abcdef"), 16);
	assert_int_equal(agent_config_parse(&c2, conf, "y", err, sizeof(err)),
			 VG_OK);
	assert_string_equal(c1.hash, c2.hash);
	agent_config_free(&c2);
	assert_int_equal(agent_config_parse(&c2, "[site]\nid = a\nregion = "
					    "01\n[broker]\n\n", "x", err,
					    sizeof(err)), VG_OK);
	assert_string_not_equal(c1.hash, c2.hash);
	assert_false(c1.mqtt_v311);
	agent_config_free(&c1);
	agent_config_free(&c2);
}

static void mqtt_version_is_5_or_311(void **state)
{
	struct agent_config c;
	char err[AGENT_ERR_MAX], text[128];

	(void)state;
	snprintf(text, sizeof(text), "%smqtt_version = 3.1.1\n", conf);
	assert_int_equal(agent_config_parse(&c, text, "x", err, sizeof(err)),
			 VG_OK);
	assert_true(c.mqtt_v311);
	agent_config_free(&c);
	snprintf(text, sizeof(text), "%smqtt_version = 4\n", conf);
	assert_int_equal(agent_config_parse(&c, text, "x", err, sizeof(err)),
			 VG_ERR_PARSE);
	assert_non_null(strstr(err, "x:5: mqtt_version must be 5 or 3.1.1"));
}

/* Every test on a fresh fixture. */
#define TEST(f) \
	cmocka_unit_test_setup_teardown(f, setup, agent_kit_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(refused_records_stay_and_wait_for_a_retry),
		TEST(a_new_record_is_not_refused_yet),
		TEST(sessions_grow_across_restarts),
		TEST(a_device_whose_units_all_fault_is_failing),
		cmocka_unit_test(health_changes_only_materially),
		cmocka_unit_test(config_hash_follows_the_bytes),
		cmocka_unit_test(mqtt_version_is_5_or_311),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
