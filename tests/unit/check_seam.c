/* check_seam.c: seam.h's enums and their string forms: every value has one name that
 * reads back as itself, other text is refused, and the schema (the embedded migrations
 * of both backends) says the same words. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrations.h"
#include "seam.h"

START_TEST(test_round_trip)
{
	for (int k = 0; k < SEAM_STATUS__MAX; k++) {
		enum seam_status v = SEAM_STATUS__MAX;
		ck_assert_ptr_eq(seam_status_name((enum seam_status)k), seam_statuses[k]);
		ck_assert_int_eq(seam_status_parse(seam_statuses[k], &v), 0);
		ck_assert_int_eq(v, k);
		ck_assert(seam_status_is(seam_statuses[k], (enum seam_status)k));
	}
	for (int k = 0; k < SEAM_STEP__MAX; k++) {
		enum seam_step v = SEAM_STEP__MAX;
		ck_assert_ptr_eq(seam_step_name((enum seam_step)k), seam_steps[k]);
		ck_assert_int_eq(seam_step_parse(seam_steps[k], &v), 0);
		ck_assert_int_eq(v, k);
		ck_assert(seam_step_is(seam_steps[k], (enum seam_step)k));
	}
	for (int k = 0; k < SEAM_JOB__MAX; k++) {
		enum seam_job v = SEAM_JOB__MAX;
		ck_assert_ptr_eq(seam_job_name((enum seam_job)k), seam_jobs[k]);
		ck_assert_int_eq(seam_job_parse(seam_jobs[k], &v), 0);
		ck_assert_int_eq(v, k);
	}
	for (int k = 0; k < SEAM_CHANNEL__MAX; k++)
		ck_assert_ptr_eq(seam_channel_name((enum seam_channel)k), seam_channels[k]);
	/* The lists end with NULL, for req_query_enum. */
	ck_assert_ptr_null(seam_statuses[SEAM_STATUS__MAX]);
	ck_assert_ptr_null(seam_steps[SEAM_STEP__MAX]);
	ck_assert_ptr_null(seam_jobs[SEAM_JOB__MAX]);
	ck_assert_ptr_null(seam_channels[SEAM_CHANNEL__MAX]);
	/* The words the database and the API have always used. */
	ck_assert_str_eq(seam_status_name(SEAM_STATUS_ENDING), "ending");
	ck_assert_str_eq(seam_step_name(SEAM_STEP_TUNNEL_DELETE), "tunnel_delete");
	ck_assert_str_eq(seam_job_name(SEAM_JOB_SESSION_START), "session.start");
	ck_assert_str_eq(seam_channel_name(SEAM_CHANNEL_JOBS), "kaiden_jobs");
}
END_TEST

START_TEST(test_refusals)
{
	enum seam_status status = SEAM_STATUS_ACTIVE;
	enum seam_step step = SEAM_STEP_DNS;
	enum seam_job job = SEAM_JOB_SESSION_END;

	ck_assert_int_eq(seam_status_parse("Active", &status), -1);
	ck_assert_int_eq(seam_status_parse("", &status), -1);
	ck_assert_int_eq(seam_status_parse(NULL, &status), -1);
	ck_assert_int_eq(status, SEAM_STATUS_ACTIVE); /* untouched */
	ck_assert_int_eq(seam_step_parse("dns ", &step), -1);
	ck_assert_int_eq(step, SEAM_STEP_DNS);
	ck_assert_int_eq(seam_job_parse("session", &job), -1);
	ck_assert_int_eq(seam_job_parse(NULL, &job), -1);
	ck_assert_int_eq(job, SEAM_JOB_SESSION_END);
	/* No step yet: "" or NULL. */
	ck_assert_int_eq(seam_step_parse("", &step), 0);
	ck_assert_int_eq(step, SEAM_STEP_NONE);
	step = SEAM_STEP_DNS;
	ck_assert_int_eq(seam_step_parse(NULL, &step), 0);
	ck_assert_int_eq(step, SEAM_STEP_NONE);
	ck_assert(seam_step_is(NULL, SEAM_STEP_NONE));
	ck_assert(!seam_status_is(NULL, SEAM_STATUS_PENDING));
	ck_assert(!seam_status_is("pending", SEAM_STATUS_ACTIVE));
	ck_assert_str_eq(seam_status_name(SEAM_STATUS__MAX), "?");
	ck_assert_str_eq(seam_step_name((enum seam_step)-1), "?");
}
END_TEST

/* "('a', 'b', ...)" for the statuses in mask. */
static void sql_list(unsigned mask, char *out, size_t size)
{
	size_t len = 0;

	len += (size_t)snprintf(out, size, "(");
	for (int k = 0; k < SEAM_STATUS__MAX; k++)
		if (mask & SEAM_STATUS_BIT(k))
			len += (size_t)snprintf(out + len, size - len, "%s'%s'", len > 1 ? ", " : "",
			                        seam_statuses[k]);
	snprintf(out + len, size - len, ")");
}

/* The SQL that names statuses in its text says what the enums say: SEAM_SQL_LIVE, the
 * sessions table's CHECK and the live-sessions index, in both backends' migrations. */
START_TEST(test_schema_agrees)
{
	char all[256], live[256], check[300], index[300];
	int seen_check = 0, seen_index = 0;

	sql_list((1u << SEAM_STATUS__MAX) - 1, all, sizeof(all));
	sql_list(SEAM_STATUSES_LIVE, live, sizeof(live));
	ck_assert_str_eq(SEAM_SQL_LIVE, live);
	snprintf(check, sizeof(check), "CHECK (status IN %s)", all);
	snprintf(index, sizeof(index), "WHERE status IN %s", live);
	for (const struct migration *m = migrations; m->backend; m++) {
		seen_check += strstr(m->sql, check) != NULL;
		seen_index += strstr(m->sql, index) != NULL;
	}
	ck_assert_msg(seen_check == 2, "%s in %d backends' migrations, not 2", check, seen_check);
	ck_assert_msg(seen_index == 2, "%s in %d backends' migrations, not 2", index, seen_index);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("seam");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_schema_agrees);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
