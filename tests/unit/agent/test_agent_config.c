/*
 * Configuration parser: a full valid file, defaults, and errors that name
 * the file and the line at fault.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "vigie/err.h"

static const char good[] =
	"# a comment\n"
	"[site]\n"
	"id = qc-03-a\n"
	"region = 03\n"
	"\n"
	"[broker]\n"
	"host = broker.example\n"
	"port = 8883\n"
	"ca_file = /etc/ssl/ca.pem\n"
	"username = agent\n"
	"password = secret\n"
	"prefix = lab\n"
	"\n"
	"[agent]\n"
	"data_dir = /tmp/vigie\n"
	"\n"
	"[unit U1]\n"
	"program = renir\n"
	"device = plc\n"
	"register = input\n"
	"address = 7\n"
	"map = 10=pending 20=migrated ; inline comment\n"
	"\n"
	"[device plc]\n"
	"rtu = /dev/ttyS1\n"
	"baud = 9600\n"
	"parity = even\n"
	"slave = 4\n"
	"rs485 = yes\n"
	"\n"
	"[unit M1]\n"
	"program = rgt\n"
	"source = manual\n"
	"\n"
	"[unit C1]\n"
	"program = rgt\n"
	"device = plc\n"
	"register = coil\n"
	"address = 3\n";

static void parses_a_full_file(void **state)
{
	struct agent_config c;
	char err[AGENT_ERR_MAX] = "";

	(void)state;
	if (agent_config_parse(&c, good, "t.conf", err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(c.site, "qc-03-a");
	assert_int_equal(c.region, 3);
	assert_int_equal(c.port, 8883);
	assert_true(c.tls); /* a CA file means TLS */
	assert_string_equal(c.prefix, "lab");
	/* the broker binds identity to the user name: so does the default */
	assert_string_equal(c.client_id, "agent");
	assert_string_equal(c.control, "/tmp/vigie/agent.sock");
	assert_int_equal(c.ndevices, 1);
	assert_int_equal(c.devices[0].transport, AGENT_RTU);
	assert_int_equal(c.devices[0].parity, 'E');
	assert_int_equal(c.devices[0].slave, 4);
	assert_true(c.devices[0].rs485);
	assert_int_equal(c.nunits, 3);
	assert_int_equal(c.units[0].device, 0); /* declared before its device */
	assert_int_equal(c.units[0].reg, AGENT_REG_INPUT);
	assert_int_equal(agent_config_map(&c, &c.units[0], 20), VG_STATE_MIGRATED);
	assert_int_equal(agent_config_map(&c, &c.units[0], 0), VG_ERR_NOTFOUND);
	assert_true(c.units[1].manual);
	/* bits default to 0 = pending, 1 = migrated */
	assert_int_equal(agent_config_map(&c, &c.units[2], 1), VG_STATE_MIGRATED);
	assert_int_equal(agent_config_map(&c, &c.units[2], 0), VG_STATE_PENDING);
	agent_config_free(&c);
}

/* text must be refused with an error containing want. */
static void expect_error(const char *text, const char *want)
{
	struct agent_config c;
	char err[AGENT_ERR_MAX] = "";

	if (agent_config_parse(&c, text, "t.conf", err, sizeof(err)) !=
	    VG_ERR_PARSE)
		fail_msg("accepted: %s", text);
	if (!strstr(err, want))
		fail_msg("got \"%s\", want \"%s\"", err, want);
	assert_null(c.units);
}

static void errors_name_file_and_line(void **state)
{
	(void)state;
	expect_error("[site]\nid = a\nregion = 18\n", "t.conf:3: region");
	expect_error("[site]\nid = bad/id\n", "t.conf:2: site id");
	expect_error("[site]\nid = a\nregion = 01\n[nope]\nx = 1\n",
		     "t.conf:4: unknown section");
	expect_error("[site]\nid = a\nregion = 01\n[broker]\nport = 0\n",
		     "t.conf:5: port");
	expect_error("[site]\nid = a\nregion = 01\n[broker]\ncolour = 1\n",
		     "t.conf:5: unknown key 'colour'");
	expect_error("[site]\nid = a\nregion = 01\nthis is not ini\n",
		     "t.conf:4: syntax error");
	expect_error("[site]\nid = a\nregion = 01\n[unit U]\nprogram = x\n",
		     "t.conf:5: program");
	expect_error("[site]\nid = a\nregion = 01\n[unit U]\n"
		     "program = rgt\ndevice = ghost\n",
		     "t.conf:4: unit 'U': no device named 'ghost'");
	expect_error("[site]\nid = a\nregion = 01\n[unit U]\nprogram = rgt\n"
		     "source = manual\n[unit U]\nprogram = rgt\n", "t.conf:7: unit 'U' "
		     "already declared at line 4");
	expect_error("[site]\nid = a\nregion = 01\n[unit U]\nprogram = rgt\n"
		     "map = 1=gone\n", "t.conf:6: map state");
	expect_error("[site]\nid = a\nregion = 01\n[broker]\ntls = yes\n",
		     "tls needs ca_file");
	expect_error("[site]\nregion = 01\n", "t.conf:3: [site] id is "
		     "missing");
	expect_error("[site]\nid = a\nregion = 01\n[device d]\nslave = 1\n",
		     "t.conf:4: device 'd' needs tcp");
}

static void syntax_error_before_semantic_one_wins(void **state)
{
	(void)state;
	expect_error("[site]\nid = a\ngarbage\nregion = 99\n",
		     "t.conf:3: syntax error");
}

static void missing_file_is_reported(void **state)
{
	struct agent_config c;
	char err[AGENT_ERR_MAX] = "";

	(void)state;
	assert_int_equal(agent_config_load(&c, "/nonexistent/a.conf", err,
					   sizeof(err)), VG_ERR_IO);
	assert_non_null(strstr(err, "/nonexistent/a.conf"));
}

/* Write text to a new file with the given mode; returns its path. */
static void write_file(char *path, const char *text, mode_t mode)
{
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static const char base[] = "[site]\nid = a\nregion = 01\n[broker]\n";

static void secrets_readable_by_others_are_refused(void **state)
{
	char conf[] = "/tmp/vg-conf-XXXXXX", pw[] = "/tmp/vg-pw-XXXXXX";
	char text[512], err[AGENT_ERR_MAX] = "";
	struct agent_config c;

	(void)state;
	/* an inline password in a world-readable file */
	snprintf(text, sizeof(text), "%spassword = s3cret\n", base);
	write_file(conf, text, 0644);
	assert_int_equal(agent_config_load(&c, conf, err, sizeof(err)),
			 VG_ERR_INVAL);
	assert_non_null(strstr(err, "readable by others (mode 644)"));
	assert_non_null(strstr(err, conf));
	assert_int_equal(chmod(conf, 0640), 0);
	assert_int_equal(agent_config_load(&c, conf, err, sizeof(err)), VG_OK);
	assert_string_equal(c.password, "s3cret");
	agent_config_free(&c);
	unlink(conf);

	/* password_file: its first line, and only if private */
	write_file(pw, "from-file\nignored\n", 0644);
	snprintf(conf, sizeof(conf), "/tmp/vg-conf-XXXXXX");
	snprintf(text, sizeof(text), "%spassword_file = %s\n", base, pw);
	write_file(conf, text, 0644);
	assert_int_equal(agent_config_load(&c, conf, err, sizeof(err)),
			 VG_ERR_INVAL);
	assert_non_null(strstr(err, "password_file"));
	assert_int_equal(chmod(pw, 0600), 0);
	assert_int_equal(agent_config_load(&c, conf, err, sizeof(err)), VG_OK);
	assert_string_equal(c.password, "from-file");
	agent_config_free(&c);
	unlink(pw);
	unlink(conf);
}

static void key_file_readable_by_others_is_refused(void **state)
{
	char conf[] = "/tmp/vg-conf-XXXXXX", key[] = "/tmp/vg-key-XXXXXX";
	char text[512], err[AGENT_ERR_MAX] = "";
	struct agent_config c;

	(void)state;
	write_file(key, "not really a key\n", 0644);
	snprintf(text, sizeof(text),
		 "%sca_file = /etc/ssl/ca.pem\ncert_file = /x.crt\n"
		 "key_file = %s\n", base, key);
	write_file(conf, text, 0644);
	assert_int_equal(agent_config_load(&c, conf, err, sizeof(err)),
			 VG_ERR_INVAL);
	assert_non_null(strstr(err, "key_file"));
	assert_int_equal(chmod(key, 0640), 0);
	assert_int_equal(agent_config_load(&c, conf, err, sizeof(err)), VG_OK);
	agent_config_free(&c);
	unlink(key);
	unlink(conf);
}

static void password_and_password_file_conflict(void **state)
{
	(void)state;
	expect_error("[site]\nid = a\nregion = 01\n[broker]\npassword = x\n"
		     "password_file = /y\n", "give one or the other");
}

/* text must parse. */
static void expect_ok(const char *text)
{
	struct agent_config c;
	char err[AGENT_ERR_MAX] = "";

	if (agent_config_parse(&c, text, "t.conf", err, sizeof(err)) != VG_OK)
		fail_msg("refused: %s\n%s", err, text);
	agent_config_free(&c);
}

#define HEAD "[site]\nid = a\nregion = 01\n"  /* lines 1-3 */

/*
 * Trust II point 5: an indented ca_file became the end of the user name
 * (inih's multi-line values) and the agent went on in clear.
 */
static void indented_lines_are_refused(void **state)
{
	(void)state;
	expect_error(HEAD "[broker]\nhost = 127.0.0.1\nusername = agent\n"
		     "  ca_file = /etc/vigie/ca.pem\n",
		     "t.conf:7: indented line: inih would add it to the value "
		     "above (\"ca_file = /etc/vigie/ca.pem\")");
	expect_error(HEAD "[broker]\n\tport = 1884\n", "t.conf:5: indented");
	expect_error(HEAD "[broker]\nport = 1884\n [agent]\n",
		     "t.conf:6: indented");
	/* blank lines with spaces and indented comments are harmless */
	expect_ok(HEAD "[broker]\n   \n\t; a comment\n  # another\n"
		  "port = 1884\n \t\r\n");
}

static void a_key_given_twice_is_refused(void **state)
{
	(void)state;
	expect_error(HEAD "[broker]\nport = 1884\nhost = 127.0.0.1\n"
		     "port = 1885\n",
		     "t.conf:7: port given twice in [broker] (first at line 5)");
	expect_error(HEAD "[unit U]\nprogram = rgt\nsource = manual\n"
		     "program = renir\n", "t.conf:7: program given twice");
	expect_error(HEAD "[broker]\nport = 1884\n[agent]\nlog_level = info\n"
		     "[broker]\nhost = 127.0.0.1\n",
		     "t.conf:8: [broker] already given at line 4");
	/* the same key in two sections is two keys */
	expect_ok(HEAD "[device a]\ntcp = 127.0.0.1\n[device b]\n"
		  "tcp = 127.0.0.1:5020\n");
}

static void units_need_an_address_of_their_own(void **state)
{
	(void)state;
	expect_error(HEAD "[device d]\ntcp = 127.0.0.1\n[unit U]\n"
		     "program = rgt\ndevice = d\n",
		     "t.conf:6: unit 'U' needs an address");
	expect_error(HEAD "[device d]\ntcp = 127.0.0.1\n"
		     "[unit U]\nprogram = rgt\ndevice = d\naddress = 5\n"
		     "[unit V]\nprogram = rgt\ndevice = d\naddress = 5\n",
		     "t.conf:10: unit 'V' reads the same holding register 5 of "
		     "slave 1 as unit 'U' (line 6)");
	/* two device sections for one slave are still one slave */
	expect_error(HEAD "[device d]\ntcp = 10.0.0.1:502\nslave = 3\n"
		     "[device e]\ntcp = 10.0.0.1\nslave = 3\n"
		     "[unit U]\nprogram = rgt\ndevice = e\naddress = 5\n"
		     "[unit V]\nprogram = rgt\ndevice = d\naddress = 5\n"
		     "[broker]\ntls = off\n", "unit 'V' reads the same");
	/* another table, slave or address is another register */
	expect_ok(HEAD "[device d]\ntcp = 127.0.0.1\n[device e]\n"
		  "tcp = 127.0.0.1\nslave = 2\n"
		  "[unit U]\nprogram = rgt\ndevice = d\naddress = 5\n"
		  "[unit V]\nprogram = rgt\ndevice = d\naddress = 5\n"
		  "register = input\n"
		  "[unit W]\nprogram = rgt\ndevice = e\naddress = 5\n"
		  "[unit X]\nprogram = rgt\ndevice = d\naddress = 6\n");
}

/* inih never calls the handler for a section without keys. */
static void empty_unit_and_device_sections_are_refused(void **state)
{
	(void)state;
	expect_error(HEAD "[unit U]\n\n# nothing yet\n[unit M]\n"
		     "program = rgt\nsource = manual\n",
		     "t.conf:4: [unit U] is empty");
	expect_error(HEAD "[unit M]\nprogram = rgt\nsource = manual\n"
		     "[unit U]\n", "t.conf:7: [unit U] is empty");
	expect_error(HEAD "[device d]\n[broker]\nport = 1884\n",
		     "t.conf:4: [device d] is empty");
}

static void plain_text_only_to_loopback_or_when_said(void **state)
{
	(void)state;
	expect_error(HEAD "[broker]\nhost = mqtt.example\nport = 1883\n",
		     "t.conf:5: [broker] host mqtt.example is not this machine "
		     "and TLS is off");
	expect_error(HEAD "[broker]\nhost = 10.1.2.3\n", "t.conf:5:");
	expect_error(HEAD "[broker]\nhost = ::2\n", "not this machine");
	expect_error(HEAD "[broker]\ntls = off\nhost = mqtt.example\n"
		     "ca_file = /ca.pem\n", "t.conf:5: tls = off, yet ca_file");
	expect_ok(HEAD "[broker]\nhost = mqtt.example\ntls = off\n");
	expect_ok(HEAD "[broker]\nhost = mqtt.example\nca_file = /ca.pem\n");
	expect_ok(HEAD "[broker]\nhost = 127.0.0.1\n");
	expect_ok(HEAD "[broker]\nhost = 127.3.0.9\n");
	expect_ok(HEAD "[broker]\nhost = localhost\n");
	expect_ok(HEAD "[broker]\nhost = ::1\n");
	expect_ok(HEAD "[broker]\nport = 1884\n"); /* default 127.0.0.1 */
}

/* [broker] host: one address or a failover list, port = for the rest. */
static void host_lists_parse_in_order(void **state)
{
	struct agent_config c;
	char err[AGENT_ERR_MAX] = "";

	(void)state;
	/* port = after the list still fills the addresses without one */
	if (agent_config_parse(&c, HEAD "[broker]\nhost = a.example:8884, "
			       "b.example,\t[::1]:1885 , c.example\n"
			       "ca_file = /ca.pem\nport = 8883\n", "t.conf",
			       err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(c.nbrokers, 4);
	assert_string_equal(c.brokers[0].host, "a.example");
	assert_int_equal(c.brokers[0].port, 8884);
	assert_string_equal(c.brokers[1].host, "b.example");
	assert_int_equal(c.brokers[1].port, 8883);
	assert_string_equal(c.brokers[2].host, "::1");
	assert_int_equal(c.brokers[2].port, 1885);
	assert_int_equal(c.brokers[3].port, 8883);
	agent_config_free(&c);
	/* the single-host form and the defaults are what they were */
	if (agent_config_parse(&c, HEAD "[broker]\nport = 1884\n", "t.conf",
			       err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(c.nbrokers, 1);
	assert_string_equal(c.brokers[0].host, "127.0.0.1");
	assert_int_equal(c.brokers[0].port, 1884);
	agent_config_free(&c);
	if (agent_config_parse(&c, HEAD "[broker]\nhost = ::1\n", "t.conf",
			       err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(c.nbrokers, 1);
	assert_string_equal(c.brokers[0].host, "::1");
	assert_int_equal(c.brokers[0].port, 1883);
	agent_config_free(&c);
	expect_ok(HEAD "[broker]\nhost = 127.0.0.1:1, 127.0.0.1:2, "
		  "127.0.0.1:3, 127.0.0.1:4, 127.0.0.1:5, 127.0.0.1:6, "
		  "127.0.0.1:7, 127.0.0.1:8\n");
}

static void bad_host_lists_name_the_line_and_the_address(void **state)
{
	(void)state;
	expect_error(HEAD "[broker]\nport = 1884\nhost = 127.0.0.1, "
		     "localhost:0\n", "t.conf:6: [broker] host: address 2 "
		     "'localhost:0': the port must be 1..65535");
	expect_error(HEAD "[broker]\nhost = 127.0.0.1,, localhost\n",
		     "t.conf:5: [broker] host: address 2 is empty");
	expect_error(HEAD "[broker]\nhost = 127.0.0.1,\n",
		     "t.conf:5: [broker] host: address 2 is empty");
	expect_error(HEAD "[broker]\nhost = local host\n",
		     "t.conf:5: [broker] host: address 1 'local host': a host "
		     "is a name or address");
	expect_error(HEAD "[broker]\nhost = ::1:1883, [::1\n",
		     "t.conf:5: [broker] host: address 2 '[::1': a '[' "
		     "without its ']'");
	expect_error(HEAD "[broker]\nhost = a,b,c,d,e,f,g,h,i\ntls = off\n",
		     "t.conf:5: [broker] host: more than 8 broker addresses");
	/* the same broker twice, once through port =: the host line */
	expect_error(HEAD "[broker]\nhost = localhost:1884, 127.0.0.1,\t"
		     "LOCALHOST\nport = 1884\n", "t.conf:5: [broker] host: "
		     "LOCALHOST:1884 is given twice (addresses 1 and 3)");
	/* every address is held to the plain-text rule, not the first */
	expect_error(HEAD "[broker]\nhost = 127.0.0.1, mqtt.example\n",
		     "t.conf:5: [broker] host mqtt.example is not this machine "
		     "and TLS is off");
	expect_ok(HEAD "[broker]\nhost = 127.0.0.1, mqtt.example\n"
		  "tls = off\n");
}

/*
 * Thousands of units are resident, so the parser keeps each id once in
 * the config's string pool (which moves as it grows) and each distinct
 * map once: every id must survive the moves, and units with the same map
 * share it.  Devices are grown to the file's count the same way.
 */
static void many_units_keep_their_ids_and_share_maps(void **state)
{
	enum { NDEV = 40, NUNITS = 600 };
	size_t size = 64 * 1024, n = 0;
	char *text = malloc(size), id[64], err[AGENT_ERR_MAX] = "";
	struct agent_config c;

	(void)state;
	assert_non_null(text);
	n += (size_t)snprintf(text + n, size - n, HEAD);
	for (int d = 0; d < NDEV; d++)
		n += (size_t)snprintf(text + n, size - n, "[device d%d]\n"
				      "tcp = 127.0.0.1:%d\nslave = %d\n", d,
				      1502 + d, d + 1);
	for (int i = 0; i < NUNITS; i++)
		n += (size_t)snprintf(text + n, size - n, "[unit a-long-unit-"
				      "identifier-%04d]\nprogram = renir\n"
				      "device = d%d\naddress = %d\n%s", i,
				      i % NDEV, 1 + i / NDEV, i % 2 ? "" :
				      i == 300 ? "map = 5=retired\n" :
				      "map = 0=pending 1=migrated\n");
	assert_true(n < size);
	if (agent_config_parse(&c, text, "t.conf", err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(c.ndevices, NDEV);
	assert_string_equal(c.devices[NDEV - 1].name, "d39");
	assert_int_equal(c.devices[NDEV - 1].slave, NDEV);
	assert_int_equal(c.nunits, NUNITS);
	for (int i = 0; i < NUNITS; i++) {
		snprintf(id, sizeof(id), "a-long-unit-identifier-%04d", i);
		assert_string_equal(c.units[i].id, id);
		assert_int_equal(agent_config_unit_find(&c, id), i);
		assert_int_equal(c.units[i].device, i % NDEV);
	}
	/* the written one, the default one (4 entries), the odd one */
	assert_int_equal(c.nmaps, 3);
	assert_int_equal(agent_config_map(&c, &c.units[0], 1),
			 VG_STATE_MIGRATED);
	assert_int_equal(agent_config_map(&c, &c.units[1], 3),
			 VG_STATE_RETIRED);
	assert_int_equal(agent_config_map(&c, &c.units[2], 3),
			 VG_ERR_NOTFOUND);
	assert_int_equal(agent_config_map(&c, &c.units[300], 5),
			 VG_STATE_RETIRED);
	assert_int_equal(c.units[2].map, c.units[0].map);
	agent_config_free(&c);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_a_full_file),
		cmocka_unit_test(errors_name_file_and_line),
		cmocka_unit_test(syntax_error_before_semantic_one_wins),
		cmocka_unit_test(missing_file_is_reported),
		cmocka_unit_test(secrets_readable_by_others_are_refused),
		cmocka_unit_test(key_file_readable_by_others_is_refused),
		cmocka_unit_test(password_and_password_file_conflict),
		cmocka_unit_test(indented_lines_are_refused),
		cmocka_unit_test(a_key_given_twice_is_refused),
		cmocka_unit_test(units_need_an_address_of_their_own),
		cmocka_unit_test(empty_unit_and_device_sections_are_refused),
		cmocka_unit_test(plain_text_only_to_loopback_or_when_said),
		cmocka_unit_test(host_lists_parse_in_order),
		cmocka_unit_test(bad_host_lists_name_the_line_and_the_address),
		cmocka_unit_test(many_units_keep_their_ids_and_share_maps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
