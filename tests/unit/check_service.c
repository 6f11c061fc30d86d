/* check_service.c: helperd/service.c's pure decisions, table-driven: which statuses a
 * job of each kind runs from (else it is stale), and where an operation resumes from
 * what `helm status` says of the release (after a restart: a pending-* lock waited
 * out, a revision an earlier attempt made watched rather than made again, a failed one
 * run again). The machine itself runs end to end in
 * tests/integration/case-124-services-helm.sh against fake_helm and fake_k8s.py. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helperd.h"
#include "service.h"

/* service.c lives on helperd's loop (main.c defines it in the program). */
struct helperd helperd;

START_TEST(test_kinds)
{
	static const char *const kinds[] = { "service.install", "service.upgrade",
		                             "service.rollback", "service.uninstall" };
	enum service_job_kind k = SERVICE_JOB__MAX;

	for (int i = 0; i < SERVICE_JOB__MAX; i++) {
		ck_assert_int_eq(service_job_parse(kinds[i], &k), 0);
		ck_assert_int_eq(k, i);
		ck_assert_str_eq(kinds[i] + 8, service_job_name(k));
	}
	ck_assert_int_eq(service_job_parse("session.start", &k), -1);
	ck_assert_int_eq(service_job_parse("service.", &k), -1);
	ck_assert_int_eq(service_job_parse("service.installx", &k), -1);
	ck_assert_int_eq(service_job_parse(NULL, &k), -1);
}
END_TEST

START_TEST(test_current)
{
	static const struct {
		enum service_job_kind kind;
		const char *status;
		int current;
	} rows[] = {
		{ SERVICE_JOB_INSTALL, "pending", 1 },
		{ SERVICE_JOB_INSTALL, "deploying", 1 },   /* resumed after a restart */
		{ SERVICE_JOB_INSTALL, "running", 0 },
		{ SERVICE_JOB_INSTALL, "deleting", 0 },    /* a DELETE came first */
		{ SERVICE_JOB_UPGRADE, "upgrading", 1 },
		{ SERVICE_JOB_UPGRADE, "deploying", 1 },   /* a failed service with no revision */
		{ SERVICE_JOB_UPGRADE, "running", 0 },
		{ SERVICE_JOB_ROLLBACK, "rolling_back", 1 },
		{ SERVICE_JOB_ROLLBACK, "failed", 0 },
		{ SERVICE_JOB_UNINSTALL, "deleting", 1 },
		{ SERVICE_JOB_UNINSTALL, "deleted", 0 },
		{ SERVICE_JOB_UNINSTALL, NULL, 0 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ck_assert_msg(service_job_current(rows[i].kind, rows[i].status) == rows[i].current,
		              "row %zu: %s from %s", i, service_job_name(rows[i].kind),
		              rows[i].status ? rows[i].status : "NULL");
}
END_TEST

/* The first claim of a job tells the browsers the status the API queued it with, unless
 * the claim moves the status itself; a later claim (requeued, restarted) does not. */
START_TEST(test_announces)
{
	static const struct {
		enum service_job_kind kind;
		const char *status;
		int attempt, announces;
	} rows[] = {
		{ SERVICE_JOB_INSTALL, "pending", 1, 0 },      /* the move to deploying tells */
		{ SERVICE_JOB_INSTALL, "deploying", 1, 1 },    /* a failed service installed again */
		{ SERVICE_JOB_UPGRADE, "upgrading", 1, 1 },
		{ SERVICE_JOB_UPGRADE, "upgrading", 2, 0 },    /* requeued: told already */
		{ SERVICE_JOB_ROLLBACK, "rolling_back", 1, 1 },
		{ SERVICE_JOB_UNINSTALL, "deleting", 1, 1 },
		{ SERVICE_JOB_UNINSTALL, "deleting", 3, 0 },
		{ SERVICE_JOB_UPGRADE, "deleting", 1, 0 },     /* stale: the uninstall tells */
		{ SERVICE_JOB_UNINSTALL, NULL, 1, 0 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ck_assert_msg(service_job_announces(rows[i].kind, rows[i].status, rows[i].attempt) ==
		                      rows[i].announces,
		              "row %zu", i);
}
END_TEST

START_TEST(test_resume)
{
	static const struct {
		int found;
		enum helm_state state;
		int helm_revision, row_revision;
		enum service_resume want;
	} rows[] = {
		{ 0, HELM_STATE_UNKNOWN, 0, 0, SERVICE_RESUME_RUN },           /* first install */
		{ 1, HELM_STATE_PENDING_INSTALL, 1, 0, SERVICE_RESUME_WAIT },  /* killed helperd's helm */
		{ 1, HELM_STATE_PENDING_UPGRADE, 3, 2, SERVICE_RESUME_WAIT },
		{ 1, HELM_STATE_PENDING_ROLLBACK, 3, 2, SERVICE_RESUME_WAIT },
		{ 1, HELM_STATE_DEPLOYED, 1, 0, SERVICE_RESUME_POLL },         /* made before a restart */
		{ 1, HELM_STATE_DEPLOYED, 2, 1, SERVICE_RESUME_POLL },
		{ 1, HELM_STATE_DEPLOYED, 1, 1, SERVICE_RESUME_RUN },          /* an upgrade to run */
		{ 1, HELM_STATE_FAILED, 1, 0, SERVICE_RESUME_RUN },            /* tried again */
		{ 1, HELM_STATE_FAILED, 3, 2, SERVICE_RESUME_RUN },
		{ 1, HELM_STATE_SUPERSEDED, 2, 2, SERVICE_RESUME_RUN },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct helm_status st;
		memset(&st, 0, sizeof(st));
		st.state = rows[i].state;
		st.revision = rows[i].helm_revision;
		ck_assert_msg(service_resume_at(SERVICE_JOB_UPGRADE, rows[i].found, &st,
		                                rows[i].row_revision) == rows[i].want,
		              "row %zu", i);
	}
}
END_TEST

/* A pending-* lock: a helm an earlier helperd started that still runs is waited for
 * (until no helm of ours could still run: services.helm_timeout + 60 s since the
 * operation began); one whose process is gone makes helperd look at the release once
 * more, then the lock is stale; an unknown one is waited out. */
START_TEST(test_lock)
{
	static const struct {
		enum helm_orphan orphan;
		int gone_before;
		int64_t now, began;
		enum service_lock want;
	} rows[] = {
		{ HELM_ORPHAN_RUNNING, 0, 1000, 990, SERVICE_LOCK_WAIT },
		{ HELM_ORPHAN_RUNNING, 0, 1000 + 300 + 61, 1000, SERVICE_LOCK_STALE },
		{ HELM_ORPHAN_GONE, 0, 1000, 999, SERVICE_LOCK_LOOK_AGAIN },
		{ HELM_ORPHAN_GONE, 1, 1000, 999, SERVICE_LOCK_STALE },      /* killed mid-way */
		{ HELM_ORPHAN_NONE, 0, 1000, 990, SERVICE_LOCK_WAIT },       /* someone else's */
		{ HELM_ORPHAN_NONE, 0, 1000 + 360, 1000, SERVICE_LOCK_WAIT },
		{ HELM_ORPHAN_NONE, 0, 1000 + 361, 1000, SERVICE_LOCK_STALE },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ck_assert_msg(service_lock_at(rows[i].orphan, rows[i].gone_before, rows[i].now,
		                              rows[i].began, 300) == rows[i].want,
		              "row %zu", i);
}
END_TEST

/* A stale lock is undone to the newest deployed revision (not the pending one), else
 * the newest superseded; an install that never finished has none (uninstalled). */
START_TEST(test_recover_target)
{
	struct helm_revision r[4];

	memset(r, 0, sizeof(r));
	r[0] = (struct helm_revision){ .revision = 1, .state = HELM_STATE_SUPERSEDED };
	r[1] = (struct helm_revision){ .revision = 2, .state = HELM_STATE_DEPLOYED };
	r[2] = (struct helm_revision){ .revision = 3, .state = HELM_STATE_PENDING_UPGRADE };
	ck_assert_int_eq(service_recover_target(r, 3, 3), 2);
	r[1].state = HELM_STATE_FAILED;
	ck_assert_int_eq(service_recover_target(r, 3, 3), 1);
	r[0] = (struct helm_revision){ .revision = 1, .state = HELM_STATE_PENDING_INSTALL };
	ck_assert_int_eq(service_recover_target(r, 1, 1), 0);
	ck_assert_int_eq(service_recover_target(NULL, 0, 1), 0);
}
END_TEST

START_TEST(test_helm_time)
{
	ck_assert_int_eq(helm_time_seconds("2026-12-03T06:40:53Z"), 1796280053);
	ck_assert_int_eq(helm_time_seconds("2026-12-03T06:40:53.123456789Z"), 1796280053);
	ck_assert_int_eq(helm_time_seconds("2026-12-03T07:40:53.5+01:00"), 1796280053);
	ck_assert_int_eq(helm_time_seconds("2026-12-03T01:10:53-05:30"), 1796280053);
	ck_assert_int_eq(helm_time_seconds(""), -1);
	ck_assert_int_eq(helm_time_seconds("2026-12-03 06:40:53"), -1);
	ck_assert_int_eq(helm_time_seconds("2026-12-03T06:40:53+01"), -1);
	ck_assert_int_eq(helm_time_seconds(NULL), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("service");
	TCase *tc = tcase_create("decisions");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_kinds);
	tcase_add_test(tc, test_current);
	tcase_add_test(tc, test_announces);
	tcase_add_test(tc, test_resume);
	tcase_add_test(tc, test_lock);
	tcase_add_test(tc, test_recover_target);
	tcase_add_test(tc, test_helm_time);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
