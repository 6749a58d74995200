// SPDX-License-Identifier: GPL-2.0-only
#include "matrix.h"

#include <stdio.h>
#include <string.h>

/* Seed order matters: when two rules match a packet equally well, the earlier row wins. */
const struct matrix_rule matrix_rules[] = {
	{ .id = "ca-revocation", .port = 80, .from = { "MGMT", "CAS", "IH" }, .to = { "CA" },
	  .description = "Access to certificate authorities to check certificate revocation status via HTTP.",
	  .from_every_host = true },
	{ .id = "ih-pop3", .port = 110, .from = { "IH" }, .to = { "ANY" },
	  .description = "Access to email servers for archiving via POP3 (Unencrypted/STARTTLS)." },
	{ .id = "ih-imap", .port = 143, .from = { "IH" }, .to = { "ANY" },
	  .description = "Access to email servers for archiving via IMAP (Unencrypted/STARTTLS)." },
	{ .id = "cas-imap", .port = 143, .from = { "ANY" }, .to = { "CAS" },
	  .description = "IMAP access to archives secured by TLS (STARTTLS) encryption." },
	{ .id = "ih-ldap", .port = 389, .from = { "IH" }, .to = { "ANY" },
	  .description = "Access to LDAP servers (including Microsoft Active Directory) using an unencrypted or "
	  "STARTTLS-encrypted session." },
	{ .id = "ih-ews", .port = 443, .from = { "IH" }, .to = { "ANY" },
	  .description = "Access to Microsoft Exchange Server for archiving via Exchange Web Services (EWS) "
	  "secured by SSL encryption." },
	{ .id = "ih-icewarp", .port = 443, .from = { "IH" }, .to = { "ANY" },
	  .description = "Access to IceWarp Mail Servers for synchronizing and authenticating users via API "
	  "secured by TLS encryption." },
	{ .id = "cas-https", .port = 443, .from = { "ANY" }, .to = { "CAS" },
	  .description = "HTTPS access to instances used by E-mail Archive Client, Outlook Add-in, and MailStore "
	  "Web Access." },
	{ .id = "mgmt-license", .port = 443, .from = { "MGMT" }, .to = { MATRIX_MAILSTORE_NAME },
	  .description = "Usage reporting and license update. If a system wide proxy has been configured, it will "
	  "be used. Important: DNS hostname MUST be used in firewall rules due to periodically "
	  "changing IP addresses of my.mailstore.com." },
	{ .id = "mgmt-smtp", .port = 587, .from = { "MGMT" }, .to = { "ANY" },
	  .description = "Access to an email server to let the Management Server send informational mails." },
	/* "send send" is the seed's wording; the matrix test keeps us verbatim. */
	{ .id = "ih-smtp", .port = 587, .from = { "IH" }, .to = { "ANY" },
	  .description = "Access to an email server to let instances send send status reports." },
	{ .id = "ih-ldaps", .port = 636, .from = { "IH" }, .to = { "ANY" },
	  .description = "Access to LDAP servers (including Microsoft Active Directory) using a TLS encrypted "
	  "connection." },
	{ .id = "cas-imaps", .port = 993, .from = { "ANY" }, .to = { "CAS" },
	  .description = "IMAP access to archives secured by TLS encryption." },
	{ .id = "ih-imaps", .port = 993, .from = { "IH" }, .to = { "ANY" },
	  .description = "Access to email servers for archiving via IMAP (TLS)." },
	{ .id = "ih-pop3s", .port = 995, .from = { "IH" }, .to = { "ANY" },
	  .description = "Access to email servers for archiving via POP3 (TLS)." },
	{ .id = "ih-kerio", .port = 4040, .from = { "IH" }, .to = { "ANY" },
	  .description = "Access to Kerio Connect Servers for synchronizing users via API secured by TLS "
	  "encryption." },
	{ .id = "mgmt-console", .port = 8470, .from = { "ADM" }, .to = { "MGMT" },
	  .description = "Web-based access to the MailStore Management Console." },
	{ .id = "mgmt-internal", .port = 8471, .from = { "CAS", "IH" }, .to = { "MGMT" },
	  .description = "Internal communication with Management Server" },
	{ .id = "ih-internal", .port = 8472, .from = { "MGMT", "CAS" }, .to = { "IH" },
	  .description = "Internal communication with Instance Hosts" },
	{ .id = "cas-internal", .port = 8473, .from = { "MGMT" }, .to = { "CAS" },
	  .description = "Internal communication with Client Access Servers" },
	{ .id = "mgmt-api", .port = 8474, .from = { "ADM" }, .to = { "MGMT" },
	  .description = "Access to the MailStore Management API." },
	{ .id = "mgmt-pairing", .port = 8474, .from = { "IH", "CAS" }, .to = { "MGMT" },
	  .description = "Required for initial pairing with Management Server in Multi Server Mode. If not "
	  "available, manual registration of Instance Hosts and Client Access Servers in "
	  "Management Server is required.",
	  .optional = true },
};

const size_t matrix_rule_count = sizeof(matrix_rules) / sizeof(matrix_rules[0]);

static const struct {
	const char *name;
	unsigned bit;
} roles[ROLE_COUNT] = {
	{ "MGMT", ROLE_MGMT },
	{ "CAS", ROLE_CAS },
	{ "IH", ROLE_IH },
};

unsigned role_parse(const char *name)
{
	for (size_t i = 0; i < ROLE_COUNT; i++)
		if (!strcmp(name, roles[i].name))
			return roles[i].bit;
	return 0;
}

const char *role_name(unsigned role)
{
	for (size_t i = 0; i < ROLE_COUNT; i++)
		if (role == roles[i].bit)
			return roles[i].name;
	return "?";
}

void roles_format(unsigned set, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ROLE_COUNT && off < len; i++)
		if (set & roles[i].bit)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "",
						roles[i].name);
}

int matrix_find(const char *id)
{
	for (size_t i = 0; i < matrix_rule_count; i++)
		if (!strcmp(matrix_rules[i].id, id))
			return (int)i;
	return -1;
}

void matrix_side_text(const struct matrix_rule *r, bool from, char *buf, size_t len)
{
	const char *const *terms = from ? r->from : r->to;
	size_t off = 0;

	if (from && r->from_every_host) {
		snprintf(buf, len, "ANY");
		return;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < MATRIX_SIDE_MAX && terms[i] && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", terms[i]);
}

bool matrix_side_is_any(const struct matrix_rule *r, bool from)
{
	const char *const *terms = from ? r->from : r->to;

	return !(from && r->from_every_host) && terms[0] && !strcmp(terms[0], "ANY") && !terms[1];
}
