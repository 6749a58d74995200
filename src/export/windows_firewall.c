// SPDX-License-Identifier: GPL-2.0-only
/*
 * The windows-firewall format: a PowerShell script for Windows Server
 * 2019/2022 that makes group `speebpf` of the local firewall hold this
 * host's policy. The script is data first ($Rules, the keywords data,
 * $NameRules), then fixed code that applies it; docs/export.md explains
 * what it does and what Windows cannot do that the eBPF datapath does.
 *
 * How the policy maps:
 *  - one firewall rule per rule and direction: inbound with the rule's
 *    local port, outbound with its remote port, remote addresses = the
 *    peers the compiler kept for it (most-specific-wins only attributes
 *    traffic, it never changes a verdict, and Windows counts no rule);
 *  - peers that are DNS names become dynamic keywords (one per name, kept
 *    current by a scheduled task); a rule with both names and addresses is
 *    written as two firewall rules, so that no rule mixes them;
 *  - the implicit allowances become rules too: DNS to the resolvers, ICMP
 *    errors and path-MTU, neighbour discovery; Windows exempts loopback and
 *    keeps state for replies itself;
 *  - default: drop/pass and audit mode become the profiles' default actions.
 */
#include "windows.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "labels.h"
#include "matrix.h"
#include "protocols.h"

#define INDENT "    "

static const char *direction_word(uint8_t dir)
{
	return dir == SPEE_DIR_INGRESS ? "Inbound" : "Outbound";
}

static const char *dir_tag(uint8_t dir)
{
	return dir == SPEE_DIR_INGRESS ? "in" : "out";
}

static const char *origin_word(enum rule_origin o)
{
	return o == RULE_MATRIX	  ? "matrix" :
	       o == RULE_SITE	  ? "site" :
	       o == RULE_BASELINE ? "baseline" :
				    "failsafe";
}

/*
 * Windows' -Protocol for a rule's protocol: TCP, UDP, ICMPv4, ICMPv6, or
 * the number (New-NetFirewallRule takes 0-255). buf holds the number.
 */
static const char *win_protocol(uint8_t proto, char buf[4])
{
	switch (proto) {
	case IPPROTO_TCP:
		return "TCP";
	case IPPROTO_UDP:
		return "UDP";
	case IPPROTO_ICMP:
		return "ICMPv4";
	case IPPROTO_ICMPV6:
		return "ICMPv6";
	}
	snprintf(buf, 4, "%u", proto);
	return buf;
}

/* "; LocalPort = '443'", "; IcmpType = '8'" or nothing (proto ip): what -Protocol leaves open. */
static void put_rule_match(FILE *out, const struct policy_rule *rule, uint8_t dir)
{
	char ports[16];

	if (proto_is_icmp(rule->proto)) {
		fprintf(out, "; IcmpType = '%u'", rule->port_lo);
	} else if (proto_has_ports(rule->proto)) {
		export_port_text(rule->port_lo, rule->port_hi, ports, sizeof(ports));
		fprintf(out, "; %s = '%s'", dir == SPEE_DIR_INGRESS ? "LocalPort" : "RemotePort",
			ports);
	}
}

/* ---- remote addresses -------------------------------------------------------- */

/*
 * The distinct prefixes of the entries [first, end) with this reason (and,
 * for an implicit reason, this protocol), sorted; the caller frees *out.
 */
static int collect_prefixes(const struct policy *p, size_t first, size_t end, uint8_t reason,
			    uint8_t proto, struct prefix **out, size_t *n)
{
	struct prefix *v = malloc((end - first + 1) * sizeof(*v));

	*n = 0;
	if (!v)
		return -ENOMEM;
	for (size_t i = first; i < end; i++) {
		const struct policy_entry *e = &p->entries[i];
		size_t k = 0;

		if (e->peer_kind != ENTRY_PEER_PREFIX || e->reason != reason ||
		    (reason != SPEE_REASON_RULE && e->proto != proto))
			continue;
		while (k < *n && prefix_cmp(&v[k], &e->prefix) < 0)
			k++;
		if (k < *n && !prefix_cmp(&v[k], &e->prefix))
			continue;
		memmove(&v[k + 1], &v[k], (*n - k) * sizeof(*v));
		v[k] = e->prefix;
		(*n)++;
	}
	*out = v;
	return 0;
}

/*
 * RemoteAddress = @(...): 'Any' for both families' /0 (Windows wants it
 * alone), an address range for one family's /0, prefixes as written.
 */
static void put_remote_addresses(FILE *out, const struct prefix *v, size_t n)
{
	bool any4 = false, any6 = false, first = true;
	char text[ADDR_TEXT_LEN];

	for (size_t i = 0; i < n; i++) {
		any4 |= v[i].family == AF_INET && v[i].len == 0;
		any6 |= v[i].family == AF_INET6 && v[i].len == 0;
	}
	fprintf(out, "RemoteAddress = @(");
	if (any4 && any6) {
		fprintf(out, "'Any')");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if ((v[i].family == AF_INET && any4) || (v[i].family == AF_INET6 && any6)) {
			if (v[i].len != 0)
				continue; /* inside the family's /0 */
			snprintf(text, sizeof(text), "%s",
				 v[i].family == AF_INET ? "0.0.0.0-255.255.255.255"
							: "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
		} else {
			prefix_format(&v[i], text, sizeof(text));
		}
		fprintf(out, "%s'%s'", first ? "" : ", ", text);
		first = false;
	}
	fprintf(out, ")");
}

/* ---- the rules --------------------------------------------------------------- */

static void put_rule_head(FILE *out, const char *indent, const struct policy *p, size_t r,
			  uint8_t dir, bool names_part)
{
	const struct policy_rule *rule = &p->rules[r];
	char match[48], proto[4], *display = NULL, *desc = NULL;

	proto_match_text(rule->proto, rule->port_lo, rule->port_hi, match, sizeof(match));
	fprintf(out, "%s@{ Name = '" WIN_GROUP ".rule.%s.%s%s'; DisplayName = ", indent, rule->id,
		dir_tag(dir), names_part ? ".dns" : "");
	if (asprintf(&display, WIN_GROUP " %s (%s%s)", rule->id,
		     dir == SPEE_DIR_INGRESS ? "inbound" : "outbound",
		     names_part ? ", DNS names" : "") < 0)
		display = NULL;
	win_put_string(out, display ? display : rule->id);
	fprintf(out, "\n%s   Rule = '%s'; Direction = '%s'; Protocol = '%s'", indent, rule->id,
		direction_word(dir), win_protocol(rule->proto, proto));
	put_rule_match(out, rule, dir);
	fprintf(out, "\n");
	if (asprintf(&desc, "%s%s(speebpf %s, %s rule: %s %s %s)",
		     rule->description ? rule->description : "", rule->description ? " " : "",
		     rule->id, origin_word(rule->origin), match,
		     dir == SPEE_DIR_INGRESS ? "from" : "to", rule->peers_text[dir]) < 0)
		desc = NULL;
	fprintf(out, "%s   Description = ", indent);
	win_put_string(out, desc ? desc : rule->id);
	fprintf(out, "\n");
	free(display);
	free(desc);
}

static void put_rule_comment(FILE *out, const char *indent, const struct policy *p, size_t r,
			     uint8_t dir)
{
	const struct policy_rule *rule = &p->rules[r];
	char match[48];

	proto_match_text(rule->proto, rule->port_lo, rule->port_hi, match, sizeof(match));
	fprintf(out, "%s# ", indent);
	win_put_comment(out, rule->id);
	fprintf(out, " (%s%s): %s %s ", origin_word(rule->origin),
		rule->optional ? ", optional" : "", match,
		dir == SPEE_DIR_INGRESS ? "from" : "to");
	win_put_comment(out, rule->peers_text[dir]);
	fprintf(out, "\n");
}

/* Why a rule enforced here has no firewall rule of its own: the compiler's notes on it. */
static void put_rule_without_entries(FILE *out, const char *indent, const struct policy *p,
				     size_t r)
{
	bool any = false;

	fprintf(out, "%s#   no firewall rule of its own:", indent);
	for (size_t i = 0; i < p->n_notes; i++) {
		if (!p->notes[i].rule || strcmp(p->notes[i].rule, p->rules[r].id))
			continue;
		fprintf(out, " ");
		win_put_comment(out, p->notes[i].text);
		any = true;
	}
	fprintf(out, "%s\n", any ? "" : " it allows nothing here");
}

/* $Rules: every rule and direction with addresses (the DNS-name parts go to $NameRules). */
static int write_rules(const struct policy *p, FILE *out)
{
	int err = 0;

	fprintf(out, "# One entry per rule and direction. Rule (or Base, for what every host needs)\n"
		     "# says where it comes from; the other keys are New-NetFirewallRule parameters.\n"
		     "# Rules whose peers are DNS names are in $NameRules (the engine, below).\n"
		     "$Rules = @(\n");
	for (uint8_t dir = 0; dir < SPEE_DIR_MAX && !err; dir++) {
		for (size_t r = 0; r < p->n_rules && !err; r++) {
			struct prefix *v = NULL;
			size_t first, end, n;

			if (!(p->rules[r].dirs & (1u << dir)))
				continue;
			put_rule_comment(out, INDENT, p, r, dir);
			export_rule_entries(p, dir, r, &first, &end);
			if (first == end) {
				put_rule_without_entries(out, INDENT, p, r);
				continue;
			}
			if (export_rule_has_names(p, dir, r))
				fprintf(out, INDENT "#   %s: see $NameRules\n",
					export_rule_has_prefixes(p, dir, r)
						? "its DNS names are a rule of their own"
						: "by DNS name");
			if (!export_rule_has_prefixes(p, dir, r))
				continue;
			err = collect_prefixes(p, first, end, SPEE_REASON_RULE, 0, &v, &n);
			if (err)
				break;
			put_rule_head(out, INDENT, p, r, dir, false);
			fprintf(out, INDENT "   ");
			put_remote_addresses(out, v, n);
			fprintf(out, " }\n");
			free(v);
		}
	}
	return err;
}

/* The implicit allowances as rules: DNS to the resolvers, ICMP errors, neighbour discovery. */
static int write_base_rules(const struct policy *p, FILE *out)
{
	static const struct {
		const char *base, *name, *protocol, *types, *what;
	} icmp[] = {
		{ "icmp", "icmp4", "ICMPv4", "'3', '11', '12'",
		  "ICMP errors (destination unreachable, time exceeded, parameter problem)" },
		{ "icmp", "icmp6", "ICMPv6", "'1', '2', '3', '4'",
		  "ICMPv6 errors and packet too big (path MTU)" },
		{ "nd", "nd", "ICMPv6", "'130', '131', '132', '133', '134', '135', '136', '137', '143'",
		  "IPv6 neighbour and router discovery, multicast listener discovery" },
	};
	static const uint8_t protos[] = { IPPROTO_UDP, IPPROTO_TCP };
	int err = 0;

	fprintf(out, "\n" INDENT "# What every host needs, as the eBPF datapath allows it (loopback "
		     "is exempt from\n" INDENT "# Windows Firewall; replies are its own state).\n");
	for (size_t k = 0; k < sizeof(protos) && !err; k++) {
		struct prefix *v = NULL;
		size_t n;

		err = collect_prefixes(p, 0, p->n_entries, SPEE_REASON_DNS, protos[k], &v, &n);
		if (err)
			break;
		if (!n) {
			free(v);
			continue;
		}
		fprintf(out, INDENT "@{ Name = '" WIN_GROUP ".base.dns-%s.out'; DisplayName = '" WIN_GROUP
				    " DNS over %s to the resolvers (outbound)'\n",
			proto_label(protos[k]), protos[k] == IPPROTO_UDP ? "UDP" : "TCP");
		fprintf(out, INDENT "   Base = 'dns'; Direction = 'Outbound'; Protocol = '%s'; RemotePort = "
				    "'53'\n",
			protos[k] == IPPROTO_UDP ? "UDP" : "TCP");
		fprintf(out, INDENT "   Description = 'DNS queries to the host''s resolvers (speebpf)'\n"
				    INDENT "   ");
		put_remote_addresses(out, v, n);
		fprintf(out, " }\n");
		free(v);
	}
	for (uint8_t dir = 0; dir < SPEE_DIR_MAX; dir++) {
		for (size_t i = 0; i < sizeof(icmp) / sizeof(icmp[0]); i++) {
			fprintf(out, INDENT "@{ Name = '" WIN_GROUP ".base.%s.%s'; DisplayName = '" WIN_GROUP
					    " %s (%s)'\n",
				icmp[i].name, dir_tag(dir), icmp[i].what,
				dir == SPEE_DIR_INGRESS ? "inbound" : "outbound");
			fprintf(out, INDENT "   Base = '%s'; Direction = '%s'; Protocol = '%s'; IcmpType = "
					    "@(%s)\n",
				icmp[i].base, direction_word(dir), icmp[i].protocol, icmp[i].types);
			fprintf(out, INDENT "   Description = '%s (speebpf)'; RemoteAddress = @('Any') }\n",
				icmp[i].what);
		}
	}
	fprintf(out, ")\n");
	return err;
}

/* $NameRules: the rules (or rule parts) whose peers are DNS names. */
static void write_name_rules(const struct policy *p, FILE *out)
{
	fprintf(out, "# The rules whose peers are DNS names: their remote addresses are the names'\n"
		     "# dynamic keywords (Windows Server 2019: the names' addresses).\n"
		     "$NameRules = @(\n");
	for (uint8_t dir = 0; dir < SPEE_DIR_MAX; dir++) {
		for (size_t r = 0; r < p->n_rules; r++) {
			size_t first, end;
			bool printed = false;

			if (!(p->rules[r].dirs & (1u << dir)) || !export_rule_has_names(p, dir, r))
				continue;
			put_rule_comment(out, INDENT, p, r, dir);
			put_rule_head(out, INDENT, p, r, dir, export_rule_has_prefixes(p, dir, r));
			fprintf(out, INDENT "   Names = @(");
			export_rule_entries(p, dir, r, &first, &end);
			for (size_t i = first; i < end; i++) {
				const struct policy_entry *e = &p->entries[i];
				bool seen = false;

				if (e->peer_kind != ENTRY_PEER_NAME)
					continue;
				for (size_t k = first; k < i && !seen; k++)
					seen = p->entries[k].peer_kind == ENTRY_PEER_NAME &&
					       !strcmp(p->entries[k].name, e->name);
				if (seen)
					continue;
				fprintf(out, "%s", printed ? ", " : "");
				win_put_string(out, e->name);
				printed = true;
			}
			fprintf(out, ") }\n");
		}
	}
	fprintf(out, ")\n");
}

/* The first rule enforced inbound here that opens tcp/port to some peer, or NULL. */
static const char *inbound_tcp_rule(const struct policy *p, uint16_t port)
{
	for (size_t r = 0; r < p->n_rules; r++) {
		const struct policy_rule *rule = &p->rules[r];
		size_t first, end;

		if (!(rule->dirs & (1u << SPEE_DIR_INGRESS)) || rule->proto != IPPROTO_TCP ||
		    port < rule->port_lo || port > rule->port_hi)
			continue;
		export_rule_entries(p, SPEE_DIR_INGRESS, r, &first, &end);
		if (first != end)
			return rule->id;
	}
	return NULL;
}

/* ---- the script ---------------------------------------------------------------- */

static const char *default_action(const struct policy *p, uint8_t dir)
{
	if (p->mode == SPEE_MODE_AUDIT || p->default_action[dir] == SPEE_ACTION_PASS)
		return "Allow";
	return "Block";
}

static void write_help(const struct policy *p, FILE *out)
{
	char roles[32], sha[65];

	roles_format(p->roles, roles, sizeof(roles));
	export_sha256_hex(p, sha);
	/* A UTF-8 byte order mark: Windows PowerShell 5.1 reads a script without one as ANSI. */
	fprintf(out, "\xef\xbb\xbf#Requires -Version 5.1\n#Requires -RunAsAdministrator\n<#\n");
	fprintf(out, ".SYNOPSIS\n    speebpf: the Windows Firewall rules of host ");
	win_put_comment(out, p->host->name);
	fprintf(out, " (%s).\n\n.DESCRIPTION\n", roles);
	fprintf(out, "    Written by `speebpf export --format windows-firewall --host ");
	win_put_comment(out, p->host->name);
	fprintf(out, "` from\n    ");
	win_put_comment(out, export_config_name(p));
	fprintf(out, " (sha256 %s).\n"
		     "    Change the fleet config and export again rather than edit this script.\n\n",
		sha);
	fprintf(out,
		"    In this order, stopping at the first error:\n"
		"    1. It checks that group policy lets local rules count (AllowLocalPolicyMerge)\n"
		"       and keeps the firewall on, and stops before changing anything when not;\n"
		"       it warns when group policy overrides the default actions set in step 4,\n"
		"       when other enabled allow rules allow more than this policy, and when a\n"
		"       remote-management port (SSH, RDP, WinRM) listens that no rule opens.\n"
		"    2. It creates or updates one dynamic keyword per DNS name the rules use\n"
		"       (Windows Server 2022; 2019 has none, and its rules get the addresses).\n"
		"    3. It writes the rules into group '" WIN_GROUP "', one per rule and direction,\n"
		"       changing rules of the same name in place, then removes the group's other\n"
		"       rules: what the old or the new policy allows stays allowed meanwhile.\n"
		"    4. It sets the default inbound and outbound action of the Domain, Private\n"
		"       and Public profiles (here %s and %s) and logs dropped packets%s.\n"
		"    5. It registers the scheduled task \\speebpf\\keyword-refresh, which applies\n"
		"       the newest `speebpf export --format windows-keywords --host ",
		default_action(p, SPEE_DIR_INGRESS), default_action(p, SPEE_DIR_EGRESS),
		p->mode == SPEE_MODE_AUDIT ? " and allowed connections (audit mode)" : "");
	win_put_comment(out, p->host->name);
	fprintf(out, "`\n"
		     "       every -RefreshMinutes (only when the rules use DNS names).\n\n"
		     "    What Windows cannot do that speebpf's eBPF datapath does: docs/export.md.\n\n"
		     ".PARAMETER KeywordsSource\n"
		     "    Where the scheduled task reads the newest windows-keywords export of this\n"
		     "    host: a file, a UNC path or an https:// URL. Default: the file\n"
		     "    C:\\ProgramData\\speebpf\\keywords.psd1, for your automation to replace.\n\n"
		     ".PARAMETER RefreshMinutes\n"
		     "    How often the task runs; default 5.\n\n"
		     ".PARAMETER DisableOtherRules\n"
		     "    Also disables the enabled allow rules of the local store outside group\n"
		     "    " WIN_GROUP " (Windows applies them too); their names are appended to\n"
		     "    C:\\ProgramData\\speebpf\\disabled-rules.txt. Without it they are listed.\n\n"
		     ".PARAMETER CheckOnly\n"
		     "    Runs the checks of step 1 and changes nothing.\n#>\n");
}

static void write_policy(const struct policy *p, FILE *out)
{
	char roles[32], sha[65];

	roles_format(p->roles, roles, sizeof(roles));
	export_sha256_hex(p, sha);
	fprintf(out, "\n# ---- the policy of host ");
	win_put_comment(out, p->host->name);
	fprintf(out, " ----\n\n$Policy = @{\n" INDENT "Host = ");
	win_put_string(out, p->host->name);
	fprintf(out, "\n" INDENT "Roles = '%s'\n" INDENT "Config = ", roles);
	win_put_string(out, export_config_name(p));
	fprintf(out, "\n" INDENT "Sha256 = '%s'\n" INDENT "Mode = '%s'\n", sha, mode_label(p->mode));
	fprintf(out, INDENT "# default: ingress %s, egress %s%s\n", action_label(p->default_action[0]),
		action_label(p->default_action[1]),
		p->mode == SPEE_MODE_AUDIT ? "; audit mode blocks nothing" : "");
	fprintf(out, INDENT "DefaultInboundAction = '%s'\n" INDENT "DefaultOutboundAction = '%s'\n}\n\n",
		default_action(p, SPEE_DIR_INGRESS), default_action(p, SPEE_DIR_EGRESS));
}

static void write_management_ports(const struct policy *p, FILE *out)
{
	static const struct {
		uint16_t port;
		const char *service;
	} ports[] = { { 22, "SSH" }, { 3389, "RDP" }, { 5985, "WinRM" }, { 5986, "WinRM over HTTPS" } };

	fprintf(out, "\n# The remote-management ports, and the rule that opens each (for the lock-out check).\n"
		     "$ManagementPorts = @(\n");
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		const char *id = inbound_tcp_rule(p, ports[i].port);

		fprintf(out, INDENT "@{ Port = %u; Service = '%s'; Rule = '%s' }\n", ports[i].port,
			ports[i].service, id ? id : "");
	}
	fprintf(out, ")\n");
}

/* $Keywords: one dynamic keyword per DNS name; the ids never change (win_keyword_id). */
static void write_keywords(const struct policy *p, FILE *out)
{
	char id[WIN_KEYWORD_ID_LEN], *label;

	fprintf(out, "\n# One dynamic keyword per DNS name the rules use.\n$Keywords = @(\n");
	for (size_t i = 0; i < p->n_names; i++) {
		win_keyword_id(p->names[i], id);
		fprintf(out, INDENT "@{ Name = ");
		win_put_string(out, p->names[i]);
		fprintf(out, "; Keyword = ");
		if (asprintf(&label, WIN_GROUP " %s", p->names[i]) < 0)
			label = NULL;
		win_put_string(out, label ? label : p->names[i]);
		free(label);
		fprintf(out, "; Id = '%s' }\n", id);
	}
	fprintf(out, ")\n\n");
}

static const char ps_engine[] =
	"# ---- the engine: what this script and its scheduled task share ----\n"
	"\n"
	"function Test-SpeebpfKeywordSupport {\n"
	"    # Dynamic keywords came with Windows Server 2022 (build 20348); 2019 has none.\n"
	"    [bool](Get-Command -Name 'New-NetFirewallDynamicKeywordAddress' -ErrorAction SilentlyContinue)\n"
	"}\n"
	"\n"
	"function Set-SpeebpfRule {\n"
	"    # Creates a rule of group speebpf, or changes the rule of that name in place,\n"
	"    # so that what it allows has no gap.\n"
	"    param(\n"
	"        [Parameter(Mandatory)][hashtable]$Rule,\n"
	"        [string[]]$KeywordIds = @(),\n"
	"        [string[]]$Addresses = @()\n"
	"    )\n"
	"    $params = @{\n"
	"        Action = 'Allow'\n"
	"        Profile = 'Any'\n"
	"        Enabled = 'True'\n"
	"        Protocol = $Rule.Protocol\n"
	"        Description = $Rule.Description\n"
	"    }\n"
	"    foreach ($key in 'LocalPort', 'RemotePort', 'IcmpType', 'RemoteAddress') {\n"
	"        if ($Rule.ContainsKey($key)) { $params[$key] = $Rule[$key] }\n"
	"    }\n"
	"    if ($KeywordIds.Count -gt 0) { $params['RemoteDynamicKeywordAddresses'] = $KeywordIds }\n"
	"    if ($Addresses.Count -gt 0) { $params['RemoteAddress'] = $Addresses }\n"
	"    if (Get-NetFirewallRule -Name $Rule.Name -ErrorAction SilentlyContinue) {\n"
	"        Set-NetFirewallRule -Name $Rule.Name -NewDisplayName $Rule.DisplayName @params\n"
	"    } else {\n"
	"        New-NetFirewallRule -Name $Rule.Name -DisplayName $Rule.DisplayName -Group 'speebpf' `\n"
	"            -Direction $Rule.Direction @params | Out-Null\n"
	"    }\n"
	"}\n"
	"\n"
	"function Read-SpeebpfKeywords {\n"
	"    # The newest windows-keywords export of this host, read as data (Import-PowerShellDataFile\n"
	"    # runs nothing, so the file may come from a share or a web server): it must be for this\n"
	"    # host and this policy, and may only give the names of $Keywords IP addresses.\n"
	"    param(\n"
	"        [Parameter(Mandatory)][string]$Source,\n"
	"        [Parameter(Mandatory)][string]$StateDir\n"
	"    )\n"
	"    $new = Join-Path $StateDir 'keywords.new.psd1'\n"
	"    if ($Source -match '^https://') {\n"
	"        Invoke-WebRequest -UseBasicParsing -Uri $Source -OutFile $new\n"
	"    } else {\n"
	"        Copy-Item -LiteralPath $Source -Destination $new -Force\n"
	"    }\n"
	"    $data = Import-PowerShellDataFile -LiteralPath $new\n"
	"    if ($data.Format -ne 'speebpf windows-keywords 1') {\n"
	"        throw \"speebpf: ${Source} is not a windows-keywords export of speebpf\"\n"
	"    }\n"
	"    if ($data.Host -ne $Policy.Host) {\n"
	"        throw \"speebpf: ${Source} is for host $($data.Host), not $($Policy.Host)\"\n"
	"    }\n"
	"    if ($data.Sha256 -ne $Policy.Sha256) {\n"
	"        throw (\"speebpf: ${Source} comes from another config (sha256 $($data.Sha256)) \" +\n"
	"            \"than the rules of this host ($($Policy.Sha256)): run the new windows-firewall script first\")\n"
	"    }\n"
	"    foreach ($name in $data.Names) {\n"
	"        foreach ($address in $name.Addresses) {\n"
	"            $ip = $null\n"
	"            if (-not [System.Net.IPAddress]::TryParse($address, [ref]$ip)) {\n"
	"                throw \"speebpf: ${Source}: '$address' is not an IP address\"\n"
	"            }\n"
	"        }\n"
	"    }\n"
	"    Move-Item -LiteralPath $new -Destination (Join-Path $StateDir 'keywords.psd1') -Force\n"
	"    $data\n"
	"}\n"
	"\n"
	"function Update-SpeebpfNames {\n"
	"    # The dynamic keywords of the DNS names ($Keywords), with the addresses in $Data, and\n"
	"    # the rules that name them ($NameRules). A name without addresses in $Data did not\n"
	"    # resolve: it keeps what it had. A rule none of whose names has addresses allows\n"
	"    # nothing yet and is not written. Without dynamic keywords (Windows Server 2019) the\n"
	"    # rules hold the names' addresses themselves.\n"
	"    param([Parameter(Mandatory)][hashtable]$Data)\n"
	"    $supported = Test-SpeebpfKeywordSupport\n"
	"    $addresses = @{}\n"
	"    foreach ($name in $Data.Names) {\n"
	"        if ($name.Addresses.Count -gt 0) { $addresses[$name.Name] = @($name.Addresses) }\n"
	"    }\n"
	"    $known = @{}\n"
	"    foreach ($keyword in $Keywords) {\n"
	"        $resolved = $addresses.ContainsKey($keyword.Name)\n"
	"        if ($resolved) { $known[$keyword.Name] = $keyword }\n"
	"        if (-not $supported) { continue }\n"
	"        $exists = [bool](Get-NetFirewallDynamicKeywordAddress -Id $keyword.Id -ErrorAction SilentlyContinue)\n"
	"        if ($exists) { $known[$keyword.Name] = $keyword }\n"
	"        if (-not $resolved) { continue }\n"
	"        $list = $addresses[$keyword.Name] -join ','\n"
	"        if ($exists) {\n"
	"            Update-NetFirewallDynamicKeywordAddress -Id $keyword.Id -Addresses $list | Out-Null\n"
	"        } else {\n"
	"            New-NetFirewallDynamicKeywordAddress -Id $keyword.Id -Keyword $keyword.Keyword -Addresses $list | Out-Null\n"
	"        }\n"
	"    }\n"
	"    foreach ($rule in $NameRules) {\n"
	"        $names = @($rule.Names | Where-Object { $known.ContainsKey($_) })\n"
	"        if ($names.Count -eq 0) {\n"
	"            Write-Warning \"speebpf: $($rule.DisplayName): no address for $($rule.Names -join ', ') yet: it allows nothing\"\n"
	"            continue\n"
	"        }\n"
	"        if ($supported) {\n"
	"            Set-SpeebpfRule -Rule $rule -KeywordIds @($names | ForEach-Object { $known[$_].Id })\n"
	"        } elseif ($names.Count -eq $rule.Names.Count -or\n"
	"                  -not (Get-NetFirewallRule -Name $rule.Name -ErrorAction SilentlyContinue)) {\n"
	"            # (while one of its names does not resolve, a rule keeps the addresses it has)\n"
	"            Set-SpeebpfRule -Rule $rule -Addresses @($names | ForEach-Object { $addresses[$_] })\n"
	"        }\n"
	"    }\n"
	"}\n";

static const char ps_main[] =
	". ([ScriptBlock]::Create($Engine))\n"
	"\n"
	"# ---- the checks ----\n"
	"\n"
	"function Test-SpeebpfGroupPolicy {\n"
	"    # Group policy decides over local settings: AllowLocalPolicyMerge = 0 on a profile makes\n"
	"    # Windows ignore every rule of the local store there, these included; EnableFirewall = 0\n"
	"    # turns the firewall off; DefaultInboundAction and DefaultOutboundAction override step 4.\n"
	"    $errors = New-Object System.Collections.Generic.List[string]\n"
	"    $warnings = New-Object System.Collections.Generic.List[string]\n"
	"    $voided = @{}\n"
	"    foreach ($fwProfile in 'Domain', 'Private', 'Public') {\n"
	"        $key = \"HKLM:\\SOFTWARE\\Policies\\Microsoft\\WindowsFirewall\\${fwProfile}Profile\"\n"
	"        $gpo = Get-ItemProperty -Path $key -ErrorAction SilentlyContinue\n"
	"        if (-not $gpo) { continue }\n"
	"        $values = @($gpo.PSObject.Properties | ForEach-Object { $_.Name })\n"
	"        if ($values -contains 'AllowLocalPolicyMerge' -and $gpo.AllowLocalPolicyMerge -eq 0) {\n"
	"            $errors.Add(\"$fwProfile profile: group policy sets AllowLocalPolicyMerge = 0 ($key), \" +\n"
	"                \"so Windows ignores the local firewall rules there, these included\")\n"
	"            $voided[$fwProfile] = $true\n"
	"        }\n"
	"        if ($values -contains 'EnableFirewall' -and $gpo.EnableFirewall -eq 0) {\n"
	"            $errors.Add(\"$fwProfile profile: group policy turns the firewall off (EnableFirewall = 0 in $key)\")\n"
	"        }\n"
	"        foreach ($way in 'Inbound', 'Outbound') {\n"
	"            $value = \"Default${way}Action\"\n"
	"            if ($values -notcontains $value) { continue }\n"
	"            $forced = if ($gpo.$value -eq 1) { 'Block' } else { 'Allow' }\n"
	"            if ($forced -ne $Policy[$value]) {\n"
	"                $warnings.Add(\"$fwProfile profile: group policy sets the default $($way.ToLower()) \" +\n"
	"                    \"action to $forced ($value in $key), not $($Policy[$value])\")\n"
	"            }\n"
	"        }\n"
	"    }\n"
	"    # The same as the firewall merged it: local rules may also be voided by other means (MDM).\n"
	"    foreach ($merged in Get-NetFirewallProfile -PolicyStore ActiveStore) {\n"
	"        if (\"$($merged.AllowLocalFirewallRules)\" -eq 'False' -and -not $voided.ContainsKey(\"$($merged.Name)\")) {\n"
	"            $errors.Add(\"$($merged.Name) profile: the active policy does not apply local firewall \" +\n"
	"                \"rules (AllowLocalFirewallRules False)\")\n"
	"        }\n"
	"    }\n"
	"    @{ Errors = $errors; Warnings = $warnings }\n"
	"}\n"
	"\n"
	"function Get-SpeebpfOtherRules {\n"
	"    # Enabled allow rules of the local store outside group speebpf: Windows applies them as\n"
	"    # well, and they allow more than this policy.\n"
	"    Get-NetFirewallRule -PolicyStore PersistentStore -Enabled True -Action Allow -ErrorAction SilentlyContinue |\n"
	"        Where-Object { $_.Group -ne 'speebpf' }\n"
	"}\n"
	"\n"
	"function Test-SpeebpfLockout {\n"
	"    # A remote-management port that listens here but that no rule opens: with the default\n"
	"    # inbound action Block, new sessions to it would fail.\n"
	"    if ($Policy.DefaultInboundAction -ne 'Block') { return }\n"
	"    foreach ($port in $ManagementPorts) {\n"
	"        if ($port.Rule) { continue }\n"
	"        if (Get-NetTCPConnection -State Listen -LocalPort $port.Port -ErrorAction SilentlyContinue) {\n"
	"            \"$($port.Service) (tcp/$($port.Port)) listens here, but no rule of this policy allows it \" +\n"
	"                \"inbound: new sessions to it will fail (a rule under failsafe: in the config keeps them)\"\n"
	"        }\n"
	"    }\n"
	"}\n"
	"\n"
	"function New-SpeebpfRefreshScript {\n"
	"    # The scheduled task's script: this policy's engine, then one refresh from -Source.\n"
	"    @(\n"
	"        '# speebpf: the scheduled task \\speebpf\\keyword-refresh of host ' + $Policy.Host\n"
	"        '# (written by its windows-firewall script; export and run that again to change it)'\n"
	"        'param([Parameter(Mandatory)][string]$Source)'\n"
	"        'Set-StrictMode -Version 3.0'\n"
	"        '$ErrorActionPreference = ''Stop'''\n"
	"        ('$Policy = @{{ Host = ''{0}''; Sha256 = ''{1}'' }}' -f $Policy.Host, $Policy.Sha256)\n"
	"        $Engine\n"
	"        '$data = Read-SpeebpfKeywords -Source $Source -StateDir (Join-Path $env:ProgramData ''speebpf'')'\n"
	"        'Update-SpeebpfNames -Data $data'\n"
	"    ) -join \"`r`n\"\n"
	"}\n"
	"\n"
	"# ---- 1. the checks: nothing changes before they pass ----\n"
	"\n"
	"Write-Host (\"speebpf: host {0} ({1}): {2} rules, {3} by DNS name, mode {4}\" -f\n"
	"    $Policy.Host, $Policy.Roles, $Rules.Count, $NameRules.Count, $Policy.Mode)\n"
	"$check = Test-SpeebpfGroupPolicy\n"
	"$others = @(Get-SpeebpfOtherRules)\n"
	"foreach ($warning in $check.Warnings) { Write-Warning \"speebpf: $warning\" }\n"
	"foreach ($warning in @(Test-SpeebpfLockout)) { Write-Warning \"speebpf: $warning\" }\n"
	"if ($others.Count -gt 0 -and -not $DisableOtherRules) {\n"
	"    $groups = @($others | ForEach-Object { if ($_.DisplayGroup) { $_.DisplayGroup } else { $_.DisplayName } } |\n"
	"        Sort-Object -Unique) -join '; '\n"
	"    Write-Warning ((\"speebpf: {0} enabled allow rules outside group speebpf allow more than this \" +\n"
	"        \"policy ({1}); -DisableOtherRules disables them\") -f $others.Count, $groups)\n"
	"}\n"
	"if ($check.Errors.Count -gt 0) {\n"
	"    foreach ($e in $check.Errors) { Write-Warning \"speebpf: $e\" }\n"
	"    throw ('speebpf: group policy voids the local firewall rules this script would write; nothing ' +\n"
	"        'was changed. Let the GPO merge local rules (AllowLocalPolicyMerge = 1), or put the rules into the GPO.')\n"
	"}\n"
	"if ($CheckOnly) {\n"
	"    Write-Host 'speebpf: the checks passed (-CheckOnly: nothing was changed)'\n"
	"    return\n"
	"}\n"
	"\n"
	"$StateDir = Join-Path $env:ProgramData 'speebpf'\n"
	"$step = 'the state directory'\n"
	"try {\n"
	"    # ---- 2. the DNS names: the state directory, the keywords and their rules ----\n"
	"    # Only SYSTEM and Administrators may write here: the scheduled task runs from it as SYSTEM.\n"
	"    New-Item -ItemType Directory -Path $StateDir -Force | Out-Null\n"
	"    & icacls.exe $StateDir /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' '*S-1-5-32-544:(OI)(CI)F' | Out-Null\n"
	"    if ($LASTEXITCODE -ne 0) { throw \"icacls $StateDir exited with $LASTEXITCODE\" }\n"
	"    $keywordsFile = Join-Path $StateDir 'keywords.psd1'\n"
	"    $refreshFile = Join-Path $StateDir 'keyword-refresh.ps1'\n"
	"    Set-Content -LiteralPath $keywordsFile -Value $KeywordsData -Encoding UTF8\n"
	"    Set-Content -LiteralPath $refreshFile -Value (New-SpeebpfRefreshScript) -Encoding UTF8\n"
	"    $step = 'the DNS names'\n"
	"    Update-SpeebpfNames -Data (Import-PowerShellDataFile -LiteralPath $keywordsFile)\n"
	"\n"
	"    # ---- 3. the rules: written (or changed in place) first, then the group's others removed ----\n"
	"    $step = 'the rules'\n"
	"    foreach ($rule in $Rules) { Set-SpeebpfRule -Rule $rule }\n"
	"    $keep = @($Rules | ForEach-Object { $_.Name }) + @($NameRules | ForEach-Object { $_.Name })\n"
	"    Get-NetFirewallRule -Group 'speebpf' -ErrorAction SilentlyContinue |\n"
	"        Where-Object { $keep -notcontains $_.Name } | Remove-NetFirewallRule\n"
	"    if (Test-SpeebpfKeywordSupport) {\n"
	"        $ids = @($Keywords | ForEach-Object { $_.Id })\n"
	"        Get-NetFirewallDynamicKeywordAddress -All -ErrorAction SilentlyContinue |\n"
	"            Where-Object { $_.Keyword -like 'speebpf *' -and $ids -notcontains $_.Id } |\n"
	"            ForEach-Object { Remove-NetFirewallDynamicKeywordAddress -Id $_.Id }\n"
	"    }\n"
	"\n"
	"    # ---- 4. the profiles ----\n"
	"    $step = 'the profiles'\n"
	"    $logAllowed = if ($Policy.Mode -eq 'audit') { 'True' } else { 'False' }\n"
	"    Set-NetFirewallProfile -Profile Domain, Private, Public -Enabled True `\n"
	"        -DefaultInboundAction $Policy.DefaultInboundAction -DefaultOutboundAction $Policy.DefaultOutboundAction `\n"
	"        -LogBlocked True -LogAllowed $logAllowed\n"
	"    if ($DisableOtherRules -and $others.Count -gt 0) {\n"
	"        $step = 'the other rules'\n"
	"        Add-Content -LiteralPath (Join-Path $StateDir 'disabled-rules.txt') -Value @($others | ForEach-Object { $_.Name })\n"
	"        $others | Disable-NetFirewallRule\n"
	"    }\n"
	"\n"
	"    # ---- 5. the scheduled task that keeps the DNS names current ----\n"
	"    $step = 'the scheduled task'\n"
	"    if ($Keywords.Count -gt 0) {\n"
	"        $source = if ($KeywordsSource) { $KeywordsSource } else { $keywordsFile }\n"
	"        $arguments = '-NoProfile -NonInteractive -ExecutionPolicy Bypass -File \"{0}\" -Source \"{1}\"' -f\n"
	"            $refreshFile, $source\n"
	"        $action = New-ScheduledTaskAction -Execute (Join-Path $PSHOME 'powershell.exe') -Argument $arguments\n"
	"        $trigger = New-ScheduledTaskTrigger -Once -At (Get-Date).AddMinutes(1) `\n"
	"            -RepetitionInterval (New-TimeSpan -Minutes $RefreshMinutes)\n"
	"        $principal = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest\n"
	"        $settings = New-ScheduledTaskSettingsSet -StartWhenAvailable -MultipleInstances IgnoreNew `\n"
	"            -ExecutionTimeLimit (New-TimeSpan -Minutes 10)\n"
	"        Register-ScheduledTask -TaskPath '\\speebpf\\' -TaskName 'keyword-refresh' -Action $action `\n"
	"            -Trigger $trigger -Principal $principal -Settings $settings -Force | Out-Null\n"
	"    } elseif (Get-ScheduledTask -TaskPath '\\speebpf\\' -TaskName 'keyword-refresh' -ErrorAction SilentlyContinue) {\n"
	"        Unregister-ScheduledTask -TaskPath '\\speebpf\\' -TaskName 'keyword-refresh' -Confirm:$false\n"
	"    }\n"
	"} catch {\n"
	"    throw (\"speebpf: failed at $step`: $($_.Exception.Message). Group speebpf may hold rules of \" +\n"
	"        \"the old and the new policy (both only allow); correct the cause and run the script again.\")\n"
	"}\n"
	"Write-Host (\"speebpf: group speebpf holds the policy of host {0} (default inbound {1}, outbound {2})\" -f\n"
	"    $Policy.Host, $Policy.DefaultInboundAction, $Policy.DefaultOutboundAction)\n";

/* Every rule's protocol, checked before anything is written. */
static int check_protocols(const struct policy *p, struct diags *d)
{
	for (size_t r = 0; r < p->n_rules; r++)
		if (!export_proto_known(p->rules[r].proto))
			return export_unknown_proto(p, &p->rules[r], "windows-firewall", d);
	return 0;
}

int win_write_firewall(const struct policy *p, const struct name_table *names, FILE *out,
		       struct diags *d)
{
	int err = check_protocols(p, d);

	if (err)
		return err;
	write_help(p, out);
	fprintf(out, "[CmdletBinding()]\n"
		     "param(\n"
		     INDENT "[string]$KeywordsSource = '',\n"
		     INDENT "[ValidateRange(1, 1440)][int]$RefreshMinutes = 5,\n"
		     INDENT "[switch]$DisableOtherRules,\n"
		     INDENT "[switch]$CheckOnly\n"
		     ")\n\n"
		     "Set-StrictMode -Version 3.0\n"
		     "$ErrorActionPreference = 'Stop'\n");
	write_policy(p, out);
	err = write_rules(p, out);
	if (!err)
		err = write_base_rules(p, out);
	if (err)
		return err;
	fprintf(out, "\n# The DNS names' addresses when exported, as `speebpf export --format "
		     "windows-keywords` writes them.\n$KeywordsData = @'\n");
	win_write_keywords_data(p, names, out);
	fprintf(out, "'@\n");
	write_management_ports(p, out);
	fprintf(out, "\n$Engine = @'\n%s", ps_engine);
	write_keywords(p, out);
	write_name_rules(p, out);
	fprintf(out, "'@\n\n%s", ps_main);
	return 0;
}
