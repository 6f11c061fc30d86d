/* seam.c: the string forms of seam.h's enums, each written once. */
#include "seam.h"

#include <string.h>

const char *const seam_statuses[SEAM_STATUS__MAX + 1] = {
	[SEAM_STATUS_PENDING] = "pending",
	[SEAM_STATUS_ACTIVE] = "active",
	[SEAM_STATUS_ENDING] = "ending",
	[SEAM_STATUS_ENDED] = "ended",
	[SEAM_STATUS_FAILED] = "failed",
	[SEAM_STATUS__MAX] = NULL,
};

const char *const seam_steps[SEAM_STEP__MAX + 1] = {
	[SEAM_STEP_NONE] = "",
	[SEAM_STEP_TUNNEL] = "tunnel",
	[SEAM_STEP_ACCESS] = "access",
	[SEAM_STEP_CONFIG] = "config",
	[SEAM_STEP_DNS] = "dns",
	[SEAM_STEP_TOKEN] = "token",
	[SEAM_STEP_AGENT] = "agent",
	[SEAM_STEP_ACTIVE] = "active",
	[SEAM_STEP_STOP] = "stop",
	[SEAM_STEP_DNS_DELETE] = "dns_delete",
	[SEAM_STEP_TUNNEL_DELETE] = "tunnel_delete",
	[SEAM_STEP_ENDED] = "ended",
	[SEAM_STEP_FAILED] = "failed",
	[SEAM_STEP__MAX] = NULL,
};

const char *const seam_jobs[SEAM_JOB__MAX + 1] = {
	[SEAM_JOB_SESSION_START] = "session.start",
	[SEAM_JOB_SESSION_END] = "session.end",
	[SEAM_JOB_WEBHOOK_DELIVER] = "webhook.deliver",
	[SEAM_JOB_SERVICE_INSTALL] = "service.install",
	[SEAM_JOB_SERVICE_UPGRADE] = "service.upgrade",
	[SEAM_JOB_SERVICE_ROLLBACK] = "service.rollback",
	[SEAM_JOB_SERVICE_UNINSTALL] = "service.uninstall",
	[SEAM_JOB__MAX] = NULL,
};

const char *const seam_channels[SEAM_CHANNEL__MAX + 1] = {
	[SEAM_CHANNEL_JOBS] = "kaiden_jobs",
	[SEAM_CHANNEL_EVENTS] = "kaiden_events",
	[SEAM_CHANNEL__MAX] = NULL,
};

const char *const seam_providers[SEAM_PROVIDER__MAX + 1] = {
	[SEAM_PROVIDER_CLOUDFLARE] = "cloudflare",
	[SEAM_PROVIDER_RELAY] = "relay",
	[SEAM_PROVIDER__MAX] = NULL,
};

static const char *name_in(const char *const *names, int n, int value)
{
	return value >= 0 && value < n ? names[value] : "?";
}

/* The index of text in names (n entries), or -1. */
static int index_in(const char *const *names, int n, const char *text)
{
	for (int i = 0; text && i < n; i++)
		if (strcmp(names[i], text) == 0)
			return i;
	return -1;
}

const char *seam_status_name(enum seam_status status)
{
	return name_in(seam_statuses, SEAM_STATUS__MAX, (int)status);
}

const char *seam_step_name(enum seam_step step)
{
	return name_in(seam_steps, SEAM_STEP__MAX, (int)step);
}

const char *seam_job_name(enum seam_job kind)
{
	return name_in(seam_jobs, SEAM_JOB__MAX, (int)kind);
}

const char *seam_channel_name(enum seam_channel channel)
{
	return name_in(seam_channels, SEAM_CHANNEL__MAX, (int)channel);
}

const char *seam_provider_name(enum seam_provider provider)
{
	return name_in(seam_providers, SEAM_PROVIDER__MAX, (int)provider);
}

int seam_provider_parse(const char *text, enum seam_provider *out)
{
	int i = index_in(seam_providers, SEAM_PROVIDER__MAX, text);

	if (i < 0)
		return -1;
	*out = (enum seam_provider)i;
	return 0;
}

int seam_status_parse(const char *text, enum seam_status *out)
{
	int i = index_in(seam_statuses, SEAM_STATUS__MAX, text);

	if (i < 0)
		return -1;
	*out = (enum seam_status)i;
	return 0;
}

int seam_step_parse(const char *text, enum seam_step *out)
{
	int i = index_in(seam_steps, SEAM_STEP__MAX, text ? text : "");

	if (i < 0)
		return -1;
	*out = (enum seam_step)i;
	return 0;
}

int seam_job_parse(const char *text, enum seam_job *out)
{
	int i = index_in(seam_jobs, SEAM_JOB__MAX, text);

	if (i < 0)
		return -1;
	*out = (enum seam_job)i;
	return 0;
}

int seam_status_is(const char *text, enum seam_status status)
{
	return text && strcmp(text, seam_status_name(status)) == 0;
}

int seam_step_is(const char *text, enum seam_step step)
{
	return strcmp(text ? text : "", seam_step_name(step)) == 0;
}
