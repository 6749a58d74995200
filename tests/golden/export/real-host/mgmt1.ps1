#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
.SYNOPSIS
    speebpf: the Windows Firewall rules of host mgmt1 (MGMT).

.DESCRIPTION
    Written by `speebpf export --format windows-firewall --host mgmt1` from
    real-host.yaml (sha256 1c744528c11a5ea6dd97c300bbe2878bbc1a1df8e19016e7adbaf6a0fd12a9b9).
    Change the fleet config and export again rather than edit this script.

    In this order, stopping at the first error:
    1. It checks that group policy lets local rules count (AllowLocalPolicyMerge)
       and keeps the firewall on, and stops before changing anything when not;
       it warns when group policy overrides the default actions set in step 4,
       when other enabled allow rules allow more than this policy, and when a
       remote-management port (SSH, RDP, WinRM) listens that no rule opens.
    2. It creates or updates one dynamic keyword per DNS name the rules use
       (Windows Server 2022; 2019 has none, and its rules get the addresses).
    3. It writes the rules into group 'speebpf', one per rule and direction,
       changing rules of the same name in place, then removes the group's other
       rules: what the old or the new policy allows stays allowed meanwhile.
    4. It sets the default inbound and outbound action of the Domain, Private
       and Public profiles (here Block and Block) and logs dropped packets.
    5. It registers the scheduled task \speebpf\keyword-refresh, which applies
       the newest `speebpf export --format windows-keywords --host mgmt1`
       every -RefreshMinutes (only when the rules use DNS names).

    What Windows cannot do that speebpf's eBPF datapath does: docs/export.md.

.PARAMETER KeywordsSource
    Where the scheduled task reads the newest windows-keywords export of this
    host: a file, a UNC path or an https:// URL. Default: the file
    C:\ProgramData\speebpf\keywords.psd1, for your automation to replace.

.PARAMETER RefreshMinutes
    How often the task runs; default 5.

.PARAMETER DisableOtherRules
    Also disables the enabled allow rules of the local store outside group
    speebpf (Windows applies them too); their names are appended to
    C:\ProgramData\speebpf\disabled-rules.txt. Without it they are listed.

.PARAMETER CheckOnly
    Runs the checks of step 1 and changes nothing.
#>
[CmdletBinding()]
param(
    [string]$KeywordsSource = '',
    [ValidateRange(1, 1440)][int]$RefreshMinutes = 5,
    [switch]$DisableOtherRules,
    [switch]$CheckOnly
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

# ---- the policy of host mgmt1 ----

$Policy = @{
    Host = 'mgmt1'
    Roles = 'MGMT'
    Config = 'real-host.yaml'
    Sha256 = '1c744528c11a5ea6dd97c300bbe2878bbc1a1df8e19016e7adbaf6a0fd12a9b9'
    Mode = 'enforce'
    # default: ingress drop, egress drop
    DefaultInboundAction = 'Block'
    DefaultOutboundAction = 'Block'
}

# One entry per rule and direction. Rule (or Base, for what every host needs)
# says where it comes from; the other keys are New-NetFirewallRule parameters.
# Rules whose peers are DNS names are in $NameRules (the engine, below).
$Rules = @(
    # mgmt-console (matrix): tcp/8470 from ADM
    @{ Name = 'speebpf.rule.mgmt-console.in'; DisplayName = 'speebpf mgmt-console (inbound)'
       Rule = 'mgmt-console'; Direction = 'Inbound'; Protocol = 'TCP'; LocalPort = '8470'
       Description = 'Web-based access to the MailStore Management Console. (speebpf mgmt-console, matrix rule: tcp/8470 from ADM)'
       RemoteAddress = @('198.18.9.0/24') }
    # mgmt-internal (matrix): tcp/8471 from CAS, IH
    @{ Name = 'speebpf.rule.mgmt-internal.in'; DisplayName = 'speebpf mgmt-internal (inbound)'
       Rule = 'mgmt-internal'; Direction = 'Inbound'; Protocol = 'TCP'; LocalPort = '8471'
       Description = 'Internal communication with Management Server (speebpf mgmt-internal, matrix rule: tcp/8471 from CAS, IH)'
       RemoteAddress = @('198.18.0.11', '198.18.0.12', '198.18.0.21') }
    # mgmt-api (matrix): tcp/8474 from ADM
    @{ Name = 'speebpf.rule.mgmt-api.in'; DisplayName = 'speebpf mgmt-api (inbound)'
       Rule = 'mgmt-api'; Direction = 'Inbound'; Protocol = 'TCP'; LocalPort = '8474'
       Description = 'Access to the MailStore Management API. (speebpf mgmt-api, matrix rule: tcp/8474 from ADM)'
       RemoteAddress = @('198.18.9.0/24') }
    # mgmt-pairing (matrix, optional): tcp/8474 from IH, CAS
    @{ Name = 'speebpf.rule.mgmt-pairing.in'; DisplayName = 'speebpf mgmt-pairing (inbound)'
       Rule = 'mgmt-pairing'; Direction = 'Inbound'; Protocol = 'TCP'; LocalPort = '8474'
       Description = 'Required for initial pairing with Management Server in Multi Server Mode. If not available, manual registration of Instance Hosts and Client Access Servers in Management Server is required. (speebpf mgmt-pairing, matrix rule: tcp/8474 from IH, CAS)'
       RemoteAddress = @('198.18.0.11', '198.18.0.12', '198.18.0.21') }
    # ping-from-adm (site): icmp/echo-request from ADM
    @{ Name = 'speebpf.rule.ping-from-adm.in'; DisplayName = 'speebpf ping-from-adm (inbound)'
       Rule = 'ping-from-adm'; Direction = 'Inbound'; Protocol = 'ICMPv4'; IcmpType = '8'
       Description = '(speebpf ping-from-adm, site rule: icmp/echo-request from ADM)'
       RemoteAddress = @('198.18.9.0/24') }
    # failsafe-ssh (failsafe): tcp/22 from ADM
    @{ Name = 'speebpf.rule.failsafe-ssh.in'; DisplayName = 'speebpf failsafe-ssh (inbound)'
       Rule = 'failsafe-ssh'; Direction = 'Inbound'; Protocol = 'TCP'; LocalPort = '22'
       Description = 'SSH from the administration networks (failsafe) (speebpf failsafe-ssh, failsafe rule: tcp/22 from ADM)'
       RemoteAddress = @('198.18.9.0/24') }
    # base-dhcp-reply (baseline): udp/68 from 0.0.0.0/0
    @{ Name = 'speebpf.rule.base-dhcp-reply.in'; DisplayName = 'speebpf base-dhcp-reply (inbound)'
       Rule = 'base-dhcp-reply'; Direction = 'Inbound'; Protocol = 'UDP'; LocalPort = '68'
       Description = 'DHCP client: the servers'' offers and acks (from port 67, to the broadcast address or the offered one: no reply of the request''s flow) (speebpf base-dhcp-reply, baseline rule: udp/68 from 0.0.0.0/0)'
       RemoteAddress = @('0.0.0.0-255.255.255.255') }
    # base-dhcpv6-reply (baseline): udp/546 from fe80::/10
    @{ Name = 'speebpf.rule.base-dhcpv6-reply.in'; DisplayName = 'speebpf base-dhcpv6-reply (inbound)'
       Rule = 'base-dhcpv6-reply'; Direction = 'Inbound'; Protocol = 'UDP'; LocalPort = '546'
       Description = 'DHCPv6 client: advertise and reply, from a server''s or relay''s link-local address (speebpf base-dhcpv6-reply, baseline rule: udp/546 from fe80::/10)'
       RemoteAddress = @('fe80::/10') }
    # base-echo-in (baseline): icmp/echo-request from ADM
    #   no firewall rule of its own: base-echo-in (ingress) cannot be told apart from ping-from-adm on the wire: its traffic counts under ping-from-adm
    # base-echo6-in (baseline): icmpv6/echo-request from ADM
    #   no firewall rule of its own: base-echo6-in: proto icmpv6 is IPv6's, and its peers from (ADM) have no IPv6 address, so it allows nothing (write a rule of proto icmp for them)
    # base-kubelet (baseline): tcp/10250 from K8S_CONTROL
    @{ Name = 'speebpf.rule.base-kubelet.in'; DisplayName = 'speebpf base-kubelet (inbound)'
       Rule = 'base-kubelet'; Direction = 'Inbound'; Protocol = 'TCP'; LocalPort = '10250'
       Description = 'the kubelet''s API, called by the control plane (logs, exec, metrics) (speebpf base-kubelet, baseline rule: tcp/10250 from K8S_CONTROL)'
       RemoteAddress = @('198.18.8.0/24') }
    # base-vxlan (baseline): udp/4789 from every host
    @{ Name = 'speebpf.rule.base-vxlan.in'; DisplayName = 'speebpf base-vxlan (inbound)'
       Rule = 'base-vxlan'; Direction = 'Inbound'; Protocol = 'UDP'; LocalPort = '4789'
       Description = 'the pod network''s VXLAN overlay between the nodes (IANA port: Calico, Cilium) (speebpf base-vxlan, baseline rule: udp/4789 from every host)'
       RemoteAddress = @('198.18.0.10', '198.18.0.11', '198.18.0.12', '198.18.0.21', 'fd00:5e::10') }
    # base-vxlan-linux (baseline): udp/8472 from every host
    @{ Name = 'speebpf.rule.base-vxlan-linux.in'; DisplayName = 'speebpf base-vxlan-linux (inbound)'
       Rule = 'base-vxlan-linux'; Direction = 'Inbound'; Protocol = 'UDP'; LocalPort = '8472'
       Description = 'the pod network''s VXLAN overlay on the Linux kernel''s default port (flannel, Cilium) (speebpf base-vxlan-linux, baseline rule: udp/8472 from every host)'
       RemoteAddress = @('198.18.0.10', '198.18.0.11', '198.18.0.12', '198.18.0.21', 'fd00:5e::10') }
    # base-geneve (baseline): udp/6081 from every host
    @{ Name = 'speebpf.rule.base-geneve.in'; DisplayName = 'speebpf base-geneve (inbound)'
       Rule = 'base-geneve'; Direction = 'Inbound'; Protocol = 'UDP'; LocalPort = '6081'
       Description = 'the pod network''s Geneve overlay between the nodes (Cilium, OVN-Kubernetes, Antrea) (speebpf base-geneve, baseline rule: udp/6081 from every host)'
       RemoteAddress = @('198.18.0.10', '198.18.0.11', '198.18.0.12', '198.18.0.21', 'fd00:5e::10') }
    # base-bgp (baseline): tcp/179 from every host
    @{ Name = 'speebpf.rule.base-bgp.in'; DisplayName = 'speebpf base-bgp (inbound)'
       Rule = 'base-bgp'; Direction = 'Inbound'; Protocol = 'TCP'; LocalPort = '179'
       Description = 'BGP between the nodes (Calico, kube-router, MetalLB) (speebpf base-bgp, baseline rule: tcp/179 from every host)'
       RemoteAddress = @('198.18.0.10', '198.18.0.11', '198.18.0.12', '198.18.0.21', 'fd00:5e::10') }
    # base-agent-metrics (baseline): tcp/9600 from MONITORING
    @{ Name = 'speebpf.rule.base-agent-metrics.in'; DisplayName = 'speebpf base-agent-metrics (inbound)'
       Rule = 'base-agent-metrics'; Direction = 'Inbound'; Protocol = 'TCP'; LocalPort = '9600'
       Description = 'the speebpf agent''s /metrics and /readyz (run --metrics; the config''s metrics-port) (speebpf base-agent-metrics, baseline rule: tcp/9600 from MONITORING)'
       RemoteAddress = @('198.18.9.50') }
    # ca-revocation (matrix): tcp/80 to CA
    @{ Name = 'speebpf.rule.ca-revocation.out'; DisplayName = 'speebpf ca-revocation (outbound)'
       Rule = 'ca-revocation'; Direction = 'Outbound'; Protocol = 'TCP'; RemotePort = '80'
       Description = 'Access to certificate authorities to check certificate revocation status via HTTP. (speebpf ca-revocation, matrix rule: tcp/80 to CA)'
       RemoteAddress = @('Any') }
    # mgmt-license (matrix): tcp/443 to my.mailstore.com
    #   by DNS name: see $NameRules
    # mgmt-smtp (matrix): tcp/587 to ANY
    @{ Name = 'speebpf.rule.mgmt-smtp.out'; DisplayName = 'speebpf mgmt-smtp (outbound)'
       Rule = 'mgmt-smtp'; Direction = 'Outbound'; Protocol = 'TCP'; RemotePort = '587'
       Description = 'Access to an email server to let the Management Server send informational mails. (speebpf mgmt-smtp, matrix rule: tcp/587 to ANY)'
       RemoteAddress = @('Any') }
    # ih-internal (matrix): tcp/8472 to IH
    @{ Name = 'speebpf.rule.ih-internal.out'; DisplayName = 'speebpf ih-internal (outbound)'
       Rule = 'ih-internal'; Direction = 'Outbound'; Protocol = 'TCP'; RemotePort = '8472'
       Description = 'Internal communication with Instance Hosts (speebpf ih-internal, matrix rule: tcp/8472 to IH)'
       RemoteAddress = @('198.18.0.21') }
    # cas-internal (matrix): tcp/8473 to CAS
    @{ Name = 'speebpf.rule.cas-internal.out'; DisplayName = 'speebpf cas-internal (outbound)'
       Rule = 'cas-internal'; Direction = 'Outbound'; Protocol = 'TCP'; RemotePort = '8473'
       Description = 'Internal communication with Client Access Servers (speebpf cas-internal, matrix rule: tcp/8473 to CAS)'
       RemoteAddress = @('198.18.0.11', '198.18.0.12') }
    # ping6-out (site): icmpv6/echo-request to fd00:5e::/64
    @{ Name = 'speebpf.rule.ping6-out.out'; DisplayName = 'speebpf ping6-out (outbound)'
       Rule = 'ping6-out'; Direction = 'Outbound'; Protocol = 'ICMPv6'; IcmpType = '128'
       Description = '(speebpf ping6-out, site rule: icmpv6/echo-request to fd00:5e::/64)'
       RemoteAddress = @('fd00:5e::/64') }
    # base-ntp (baseline): udp/123 to NTP
    @{ Name = 'speebpf.rule.base-ntp.out'; DisplayName = 'speebpf base-ntp (outbound)'
       Rule = 'base-ntp'; Direction = 'Outbound'; Protocol = 'UDP'; RemotePort = '123'
       Description = 'NTP: the host''s clock (chrony, ntpd, systemd-timesyncd) asks its time servers (speebpf base-ntp, baseline rule: udp/123 to NTP)'
       RemoteAddress = @('198.18.7.123') }
    # base-dhcp (baseline): udp/67 to 0.0.0.0/0
    @{ Name = 'speebpf.rule.base-dhcp.out'; DisplayName = 'speebpf base-dhcp (outbound)'
       Rule = 'base-dhcp'; Direction = 'Outbound'; Protocol = 'UDP'; RemotePort = '67'
       Description = 'DHCP client: discover and request, broadcast from 0.0.0.0 before the host has an address, then unicast renewals to the server (speebpf base-dhcp, baseline rule: udp/67 to 0.0.0.0/0)'
       RemoteAddress = @('0.0.0.0-255.255.255.255') }
    # base-dhcpv6 (baseline): udp/547 to ff02::1:2
    @{ Name = 'speebpf.rule.base-dhcpv6.out'; DisplayName = 'speebpf base-dhcpv6 (outbound)'
       Rule = 'base-dhcpv6'; Direction = 'Outbound'; Protocol = 'UDP'; RemotePort = '547'
       Description = 'DHCPv6 client: solicit, request and renew to All_DHCP_Relay_Agents_and_Servers (speebpf base-dhcpv6, baseline rule: udp/547 to ff02::1:2)'
       RemoteAddress = @('ff02::1:2') }
    # base-echo-out (baseline): icmp/echo-request to ANY
    @{ Name = 'speebpf.rule.base-echo-out.out'; DisplayName = 'speebpf base-echo-out (outbound)'
       Rule = 'base-echo-out'; Direction = 'Outbound'; Protocol = 'ICMPv4'; IcmpType = '8'
       Description = 'ping from the host (the echo replies pass as replies) (speebpf base-echo-out, baseline rule: icmp/echo-request to ANY)'
       RemoteAddress = @('0.0.0.0-255.255.255.255') }
    # base-echo6-out (baseline): icmpv6/echo-request to ANY
    @{ Name = 'speebpf.rule.base-echo6-out.out'; DisplayName = 'speebpf base-echo6-out (outbound)'
       Rule = 'base-echo6-out'; Direction = 'Outbound'; Protocol = 'ICMPv6'; IcmpType = '128'
       Description = 'ping over IPv6 from the host (the echo replies pass as replies) (speebpf base-echo6-out, baseline rule: icmpv6/echo-request to ANY)'
       RemoteAddress = @('::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff') }
    # base-apiserver (baseline): tcp/6443 to K8S_CONTROL
    @{ Name = 'speebpf.rule.base-apiserver.out'; DisplayName = 'speebpf base-apiserver (outbound)'
       Rule = 'base-apiserver'; Direction = 'Outbound'; Protocol = 'TCP'; RemotePort = '6443'
       Description = 'the Kubernetes API server, called by the kubelet and the node''s agents (speebpf base-apiserver, baseline rule: tcp/6443 to K8S_CONTROL)'
       RemoteAddress = @('198.18.8.0/24') }
    # base-vxlan (baseline): udp/4789 to every host
    @{ Name = 'speebpf.rule.base-vxlan.out'; DisplayName = 'speebpf base-vxlan (outbound)'
       Rule = 'base-vxlan'; Direction = 'Outbound'; Protocol = 'UDP'; RemotePort = '4789'
       Description = 'the pod network''s VXLAN overlay between the nodes (IANA port: Calico, Cilium) (speebpf base-vxlan, baseline rule: udp/4789 to every host)'
       RemoteAddress = @('198.18.0.10', '198.18.0.11', '198.18.0.12', '198.18.0.21', 'fd00:5e::10') }
    # base-vxlan-linux (baseline): udp/8472 to every host
    @{ Name = 'speebpf.rule.base-vxlan-linux.out'; DisplayName = 'speebpf base-vxlan-linux (outbound)'
       Rule = 'base-vxlan-linux'; Direction = 'Outbound'; Protocol = 'UDP'; RemotePort = '8472'
       Description = 'the pod network''s VXLAN overlay on the Linux kernel''s default port (flannel, Cilium) (speebpf base-vxlan-linux, baseline rule: udp/8472 to every host)'
       RemoteAddress = @('198.18.0.10', '198.18.0.11', '198.18.0.12', '198.18.0.21', 'fd00:5e::10') }
    # base-geneve (baseline): udp/6081 to every host
    @{ Name = 'speebpf.rule.base-geneve.out'; DisplayName = 'speebpf base-geneve (outbound)'
       Rule = 'base-geneve'; Direction = 'Outbound'; Protocol = 'UDP'; RemotePort = '6081'
       Description = 'the pod network''s Geneve overlay between the nodes (Cilium, OVN-Kubernetes, Antrea) (speebpf base-geneve, baseline rule: udp/6081 to every host)'
       RemoteAddress = @('198.18.0.10', '198.18.0.11', '198.18.0.12', '198.18.0.21', 'fd00:5e::10') }
    # base-bgp (baseline): tcp/179 to every host
    @{ Name = 'speebpf.rule.base-bgp.out'; DisplayName = 'speebpf base-bgp (outbound)'
       Rule = 'base-bgp'; Direction = 'Outbound'; Protocol = 'TCP'; RemotePort = '179'
       Description = 'BGP between the nodes (Calico, kube-router, MetalLB) (speebpf base-bgp, baseline rule: tcp/179 to every host)'
       RemoteAddress = @('198.18.0.10', '198.18.0.11', '198.18.0.12', '198.18.0.21', 'fd00:5e::10') }

    # What every host needs, as the eBPF datapath allows it (loopback is exempt from
    # Windows Firewall; replies are its own state).
    @{ Name = 'speebpf.base.dns-udp.out'; DisplayName = 'speebpf DNS over UDP to the resolvers (outbound)'
       Base = 'dns'; Direction = 'Outbound'; Protocol = 'UDP'; RemotePort = '53'
       Description = 'DNS queries to the host''s resolvers (speebpf)'
       RemoteAddress = @('198.18.7.53') }
    @{ Name = 'speebpf.base.dns-tcp.out'; DisplayName = 'speebpf DNS over TCP to the resolvers (outbound)'
       Base = 'dns'; Direction = 'Outbound'; Protocol = 'TCP'; RemotePort = '53'
       Description = 'DNS queries to the host''s resolvers (speebpf)'
       RemoteAddress = @('198.18.7.53') }
    @{ Name = 'speebpf.base.icmp4.in'; DisplayName = 'speebpf ICMP errors (destination unreachable, time exceeded, parameter problem) (inbound)'
       Base = 'icmp'; Direction = 'Inbound'; Protocol = 'ICMPv4'; IcmpType = @('3', '11', '12')
       Description = 'ICMP errors (destination unreachable, time exceeded, parameter problem) (speebpf)'; RemoteAddress = @('Any') }
    @{ Name = 'speebpf.base.icmp6.in'; DisplayName = 'speebpf ICMPv6 errors and packet too big (path MTU) (inbound)'
       Base = 'icmp'; Direction = 'Inbound'; Protocol = 'ICMPv6'; IcmpType = @('1', '2', '3', '4')
       Description = 'ICMPv6 errors and packet too big (path MTU) (speebpf)'; RemoteAddress = @('Any') }
    @{ Name = 'speebpf.base.nd.in'; DisplayName = 'speebpf IPv6 neighbour and router discovery, multicast listener discovery (inbound)'
       Base = 'nd'; Direction = 'Inbound'; Protocol = 'ICMPv6'; IcmpType = @('130', '131', '132', '133', '134', '135', '136', '137', '143')
       Description = 'IPv6 neighbour and router discovery, multicast listener discovery (speebpf)'; RemoteAddress = @('Any') }
    @{ Name = 'speebpf.base.icmp4.out'; DisplayName = 'speebpf ICMP errors (destination unreachable, time exceeded, parameter problem) (outbound)'
       Base = 'icmp'; Direction = 'Outbound'; Protocol = 'ICMPv4'; IcmpType = @('3', '11', '12')
       Description = 'ICMP errors (destination unreachable, time exceeded, parameter problem) (speebpf)'; RemoteAddress = @('Any') }
    @{ Name = 'speebpf.base.icmp6.out'; DisplayName = 'speebpf ICMPv6 errors and packet too big (path MTU) (outbound)'
       Base = 'icmp'; Direction = 'Outbound'; Protocol = 'ICMPv6'; IcmpType = @('1', '2', '3', '4')
       Description = 'ICMPv6 errors and packet too big (path MTU) (speebpf)'; RemoteAddress = @('Any') }
    @{ Name = 'speebpf.base.nd.out'; DisplayName = 'speebpf IPv6 neighbour and router discovery, multicast listener discovery (outbound)'
       Base = 'nd'; Direction = 'Outbound'; Protocol = 'ICMPv6'; IcmpType = @('130', '131', '132', '133', '134', '135', '136', '137', '143')
       Description = 'IPv6 neighbour and router discovery, multicast listener discovery (speebpf)'; RemoteAddress = @('Any') }
)

# The DNS names' addresses when exported, as `speebpf export --format windows-keywords` writes them.
$KeywordsData = @'
# speebpf windows-keywords for host mgmt1
# from real-host.yaml (sha256 1c744528c11a5ea6dd97c300bbe2878bbc1a1df8e19016e7adbaf6a0fd12a9b9)
# The addresses speebpf resolved for the DNS names this host's rules use. The
# scheduled task \speebpf\keyword-refresh of the windows-firewall script reads
# this file as data (nothing in it runs) and updates the firewall's dynamic
# keywords; a name without addresses keeps the ones it had.
@{
    Format = 'speebpf windows-keywords 1'
    Host = 'mgmt1'
    Sha256 = '1c744528c11a5ea6dd97c300bbe2878bbc1a1df8e19016e7adbaf6a0fd12a9b9'
    Names = @(
        @{ Name = 'my.mailstore.com'; Addresses = @('198.19.2.100', 'fd00:5e::2:100') }
    )
}
'@

# The remote-management ports, and the rule that opens each (for the lock-out check).
$ManagementPorts = @(
    @{ Port = 22; Service = 'SSH'; Rule = 'failsafe-ssh' }
    @{ Port = 3389; Service = 'RDP'; Rule = '' }
    @{ Port = 5985; Service = 'WinRM'; Rule = '' }
    @{ Port = 5986; Service = 'WinRM over HTTPS'; Rule = '' }
)

$Engine = @'
# ---- the engine: what this script and its scheduled task share ----

function Test-SpeebpfKeywordSupport {
    # Dynamic keywords came with Windows Server 2022 (build 20348); 2019 has none.
    [bool](Get-Command -Name 'New-NetFirewallDynamicKeywordAddress' -ErrorAction SilentlyContinue)
}

function Set-SpeebpfRule {
    # Creates a rule of group speebpf, or changes the rule of that name in place,
    # so that what it allows has no gap.
    param(
        [Parameter(Mandatory)][hashtable]$Rule,
        [string[]]$KeywordIds = @(),
        [string[]]$Addresses = @()
    )
    $params = @{
        Action = 'Allow'
        Profile = 'Any'
        Enabled = 'True'
        Protocol = $Rule.Protocol
        Description = $Rule.Description
    }
    foreach ($key in 'LocalPort', 'RemotePort', 'IcmpType', 'RemoteAddress') {
        if ($Rule.ContainsKey($key)) { $params[$key] = $Rule[$key] }
    }
    if ($KeywordIds.Count -gt 0) { $params['RemoteDynamicKeywordAddresses'] = $KeywordIds }
    if ($Addresses.Count -gt 0) { $params['RemoteAddress'] = $Addresses }
    if (Get-NetFirewallRule -Name $Rule.Name -ErrorAction SilentlyContinue) {
        Set-NetFirewallRule -Name $Rule.Name -NewDisplayName $Rule.DisplayName @params
    } else {
        New-NetFirewallRule -Name $Rule.Name -DisplayName $Rule.DisplayName -Group 'speebpf' `
            -Direction $Rule.Direction @params | Out-Null
    }
}

function Read-SpeebpfKeywords {
    # The newest windows-keywords export of this host, read as data (Import-PowerShellDataFile
    # runs nothing, so the file may come from a share or a web server): it must be for this
    # host and this policy, and may only give the names of $Keywords IP addresses.
    param(
        [Parameter(Mandatory)][string]$Source,
        [Parameter(Mandatory)][string]$StateDir
    )
    $new = Join-Path $StateDir 'keywords.new.psd1'
    if ($Source -match '^https://') {
        Invoke-WebRequest -UseBasicParsing -Uri $Source -OutFile $new
    } else {
        Copy-Item -LiteralPath $Source -Destination $new -Force
    }
    $data = Import-PowerShellDataFile -LiteralPath $new
    if ($data.Format -ne 'speebpf windows-keywords 1') {
        throw "speebpf: ${Source} is not a windows-keywords export of speebpf"
    }
    if ($data.Host -ne $Policy.Host) {
        throw "speebpf: ${Source} is for host $($data.Host), not $($Policy.Host)"
    }
    if ($data.Sha256 -ne $Policy.Sha256) {
        throw ("speebpf: ${Source} comes from another config (sha256 $($data.Sha256)) " +
            "than the rules of this host ($($Policy.Sha256)): run the new windows-firewall script first")
    }
    foreach ($name in $data.Names) {
        foreach ($address in $name.Addresses) {
            $ip = $null
            if (-not [System.Net.IPAddress]::TryParse($address, [ref]$ip)) {
                throw "speebpf: ${Source}: '$address' is not an IP address"
            }
        }
    }
    Move-Item -LiteralPath $new -Destination (Join-Path $StateDir 'keywords.psd1') -Force
    $data
}

function Update-SpeebpfNames {
    # The dynamic keywords of the DNS names ($Keywords), with the addresses in $Data, and
    # the rules that name them ($NameRules). A name without addresses in $Data did not
    # resolve: it keeps what it had. A rule none of whose names has addresses allows
    # nothing yet and is not written. Without dynamic keywords (Windows Server 2019) the
    # rules hold the names' addresses themselves.
    param([Parameter(Mandatory)][hashtable]$Data)
    $supported = Test-SpeebpfKeywordSupport
    $addresses = @{}
    foreach ($name in $Data.Names) {
        if ($name.Addresses.Count -gt 0) { $addresses[$name.Name] = @($name.Addresses) }
    }
    $known = @{}
    foreach ($keyword in $Keywords) {
        $resolved = $addresses.ContainsKey($keyword.Name)
        if ($resolved) { $known[$keyword.Name] = $keyword }
        if (-not $supported) { continue }
        $exists = [bool](Get-NetFirewallDynamicKeywordAddress -Id $keyword.Id -ErrorAction SilentlyContinue)
        if ($exists) { $known[$keyword.Name] = $keyword }
        if (-not $resolved) { continue }
        $list = $addresses[$keyword.Name] -join ','
        if ($exists) {
            Update-NetFirewallDynamicKeywordAddress -Id $keyword.Id -Addresses $list | Out-Null
        } else {
            New-NetFirewallDynamicKeywordAddress -Id $keyword.Id -Keyword $keyword.Keyword -Addresses $list | Out-Null
        }
    }
    foreach ($rule in $NameRules) {
        $names = @($rule.Names | Where-Object { $known.ContainsKey($_) })
        if ($names.Count -eq 0) {
            Write-Warning "speebpf: $($rule.DisplayName): no address for $($rule.Names -join ', ') yet: it allows nothing"
            continue
        }
        if ($supported) {
            Set-SpeebpfRule -Rule $rule -KeywordIds @($names | ForEach-Object { $known[$_].Id })
        } elseif ($names.Count -eq $rule.Names.Count -or
                  -not (Get-NetFirewallRule -Name $rule.Name -ErrorAction SilentlyContinue)) {
            # (while one of its names does not resolve, a rule keeps the addresses it has)
            Set-SpeebpfRule -Rule $rule -Addresses @($names | ForEach-Object { $addresses[$_] })
        }
    }
}

# One dynamic keyword per DNS name the rules use.
$Keywords = @(
    @{ Name = 'my.mailstore.com'; Keyword = 'speebpf my.mailstore.com'; Id = '{322f289b-c360-5114-8c83-ef3c81cd08bb}' }
)

# The rules whose peers are DNS names: their remote addresses are the names'
# dynamic keywords (Windows Server 2019: the names' addresses).
$NameRules = @(
    # mgmt-license (matrix): tcp/443 to my.mailstore.com
    @{ Name = 'speebpf.rule.mgmt-license.out'; DisplayName = 'speebpf mgmt-license (outbound)'
       Rule = 'mgmt-license'; Direction = 'Outbound'; Protocol = 'TCP'; RemotePort = '443'
       Description = 'Usage reporting and license update. If a system wide proxy has been configured, it will be used. Important: DNS hostname MUST be used in firewall rules due to periodically changing IP addresses of my.mailstore.com. (speebpf mgmt-license, matrix rule: tcp/443 to my.mailstore.com)'
       Names = @('my.mailstore.com') }
)
'@

. ([ScriptBlock]::Create($Engine))

# ---- the checks ----

function Test-SpeebpfGroupPolicy {
    # Group policy decides over local settings: AllowLocalPolicyMerge = 0 on a profile makes
    # Windows ignore every rule of the local store there, these included; EnableFirewall = 0
    # turns the firewall off; DefaultInboundAction and DefaultOutboundAction override step 4.
    $errors = New-Object System.Collections.Generic.List[string]
    $warnings = New-Object System.Collections.Generic.List[string]
    $voided = @{}
    foreach ($fwProfile in 'Domain', 'Private', 'Public') {
        $key = "HKLM:\SOFTWARE\Policies\Microsoft\WindowsFirewall\${fwProfile}Profile"
        $gpo = Get-ItemProperty -Path $key -ErrorAction SilentlyContinue
        if (-not $gpo) { continue }
        $values = @($gpo.PSObject.Properties | ForEach-Object { $_.Name })
        if ($values -contains 'AllowLocalPolicyMerge' -and $gpo.AllowLocalPolicyMerge -eq 0) {
            $errors.Add("$fwProfile profile: group policy sets AllowLocalPolicyMerge = 0 ($key), " +
                "so Windows ignores the local firewall rules there, these included")
            $voided[$fwProfile] = $true
        }
        if ($values -contains 'EnableFirewall' -and $gpo.EnableFirewall -eq 0) {
            $errors.Add("$fwProfile profile: group policy turns the firewall off (EnableFirewall = 0 in $key)")
        }
        foreach ($way in 'Inbound', 'Outbound') {
            $value = "Default${way}Action"
            if ($values -notcontains $value) { continue }
            $forced = if ($gpo.$value -eq 1) { 'Block' } else { 'Allow' }
            if ($forced -ne $Policy[$value]) {
                $warnings.Add("$fwProfile profile: group policy sets the default $($way.ToLower()) " +
                    "action to $forced ($value in $key), not $($Policy[$value])")
            }
        }
    }
    # The same as the firewall merged it: local rules may also be voided by other means (MDM).
    foreach ($merged in Get-NetFirewallProfile -PolicyStore ActiveStore) {
        if ("$($merged.AllowLocalFirewallRules)" -eq 'False' -and -not $voided.ContainsKey("$($merged.Name)")) {
            $errors.Add("$($merged.Name) profile: the active policy does not apply local firewall " +
                "rules (AllowLocalFirewallRules False)")
        }
    }
    @{ Errors = $errors; Warnings = $warnings }
}

function Get-SpeebpfOtherRules {
    # Enabled allow rules of the local store outside group speebpf: Windows applies them as
    # well, and they allow more than this policy.
    Get-NetFirewallRule -PolicyStore PersistentStore -Enabled True -Action Allow -ErrorAction SilentlyContinue |
        Where-Object { $_.Group -ne 'speebpf' }
}

function Test-SpeebpfLockout {
    # A remote-management port that listens here but that no rule opens: with the default
    # inbound action Block, new sessions to it would fail.
    if ($Policy.DefaultInboundAction -ne 'Block') { return }
    foreach ($port in $ManagementPorts) {
        if ($port.Rule) { continue }
        if (Get-NetTCPConnection -State Listen -LocalPort $port.Port -ErrorAction SilentlyContinue) {
            "$($port.Service) (tcp/$($port.Port)) listens here, but no rule of this policy allows it " +
                "inbound: new sessions to it will fail (a rule under failsafe: in the config keeps them)"
        }
    }
}

function New-SpeebpfRefreshScript {
    # The scheduled task's script: this policy's engine, then one refresh from -Source.
    @(
        '# speebpf: the scheduled task \speebpf\keyword-refresh of host ' + $Policy.Host
        '# (written by its windows-firewall script; export and run that again to change it)'
        'param([Parameter(Mandatory)][string]$Source)'
        'Set-StrictMode -Version 3.0'
        '$ErrorActionPreference = ''Stop'''
        ('$Policy = @{{ Host = ''{0}''; Sha256 = ''{1}'' }}' -f $Policy.Host, $Policy.Sha256)
        $Engine
        '$data = Read-SpeebpfKeywords -Source $Source -StateDir (Join-Path $env:ProgramData ''speebpf'')'
        'Update-SpeebpfNames -Data $data'
    ) -join "`r`n"
}

# ---- 1. the checks: nothing changes before they pass ----

Write-Host ("speebpf: host {0} ({1}): {2} rules, {3} by DNS name, mode {4}" -f
    $Policy.Host, $Policy.Roles, $Rules.Count, $NameRules.Count, $Policy.Mode)
$check = Test-SpeebpfGroupPolicy
$others = @(Get-SpeebpfOtherRules)
foreach ($warning in $check.Warnings) { Write-Warning "speebpf: $warning" }
foreach ($warning in @(Test-SpeebpfLockout)) { Write-Warning "speebpf: $warning" }
if ($others.Count -gt 0 -and -not $DisableOtherRules) {
    $groups = @($others | ForEach-Object { if ($_.DisplayGroup) { $_.DisplayGroup } else { $_.DisplayName } } |
        Sort-Object -Unique) -join '; '
    Write-Warning (("speebpf: {0} enabled allow rules outside group speebpf allow more than this " +
        "policy ({1}); -DisableOtherRules disables them") -f $others.Count, $groups)
}
if ($check.Errors.Count -gt 0) {
    foreach ($e in $check.Errors) { Write-Warning "speebpf: $e" }
    throw ('speebpf: group policy voids the local firewall rules this script would write; nothing ' +
        'was changed. Let the GPO merge local rules (AllowLocalPolicyMerge = 1), or put the rules into the GPO.')
}
if ($CheckOnly) {
    Write-Host 'speebpf: the checks passed (-CheckOnly: nothing was changed)'
    return
}

$StateDir = Join-Path $env:ProgramData 'speebpf'
$step = 'the state directory'
try {
    # ---- 2. the DNS names: the state directory, the keywords and their rules ----
    # Only SYSTEM and Administrators may write here: the scheduled task runs from it as SYSTEM.
    New-Item -ItemType Directory -Path $StateDir -Force | Out-Null
    & icacls.exe $StateDir /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' '*S-1-5-32-544:(OI)(CI)F' | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "icacls $StateDir exited with $LASTEXITCODE" }
    $keywordsFile = Join-Path $StateDir 'keywords.psd1'
    $refreshFile = Join-Path $StateDir 'keyword-refresh.ps1'
    Set-Content -LiteralPath $keywordsFile -Value $KeywordsData -Encoding UTF8
    Set-Content -LiteralPath $refreshFile -Value (New-SpeebpfRefreshScript) -Encoding UTF8
    $step = 'the DNS names'
    Update-SpeebpfNames -Data (Import-PowerShellDataFile -LiteralPath $keywordsFile)

    # ---- 3. the rules: written (or changed in place) first, then the group's others removed ----
    $step = 'the rules'
    foreach ($rule in $Rules) { Set-SpeebpfRule -Rule $rule }
    $keep = @($Rules | ForEach-Object { $_.Name }) + @($NameRules | ForEach-Object { $_.Name })
    Get-NetFirewallRule -Group 'speebpf' -ErrorAction SilentlyContinue |
        Where-Object { $keep -notcontains $_.Name } | Remove-NetFirewallRule
    if (Test-SpeebpfKeywordSupport) {
        $ids = @($Keywords | ForEach-Object { $_.Id })
        Get-NetFirewallDynamicKeywordAddress -All -ErrorAction SilentlyContinue |
            Where-Object { $_.Keyword -like 'speebpf *' -and $ids -notcontains $_.Id } |
            ForEach-Object { Remove-NetFirewallDynamicKeywordAddress -Id $_.Id }
    }

    # ---- 4. the profiles ----
    $step = 'the profiles'
    $logAllowed = if ($Policy.Mode -eq 'audit') { 'True' } else { 'False' }
    Set-NetFirewallProfile -Profile Domain, Private, Public -Enabled True `
        -DefaultInboundAction $Policy.DefaultInboundAction -DefaultOutboundAction $Policy.DefaultOutboundAction `
        -LogBlocked True -LogAllowed $logAllowed
    if ($DisableOtherRules -and $others.Count -gt 0) {
        $step = 'the other rules'
        Add-Content -LiteralPath (Join-Path $StateDir 'disabled-rules.txt') -Value @($others | ForEach-Object { $_.Name })
        $others | Disable-NetFirewallRule
    }

    # ---- 5. the scheduled task that keeps the DNS names current ----
    $step = 'the scheduled task'
    if ($Keywords.Count -gt 0) {
        $source = if ($KeywordsSource) { $KeywordsSource } else { $keywordsFile }
        $arguments = '-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "{0}" -Source "{1}"' -f
            $refreshFile, $source
        $action = New-ScheduledTaskAction -Execute (Join-Path $PSHOME 'powershell.exe') -Argument $arguments
        $trigger = New-ScheduledTaskTrigger -Once -At (Get-Date).AddMinutes(1) `
            -RepetitionInterval (New-TimeSpan -Minutes $RefreshMinutes)
        $principal = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest
        $settings = New-ScheduledTaskSettingsSet -StartWhenAvailable -MultipleInstances IgnoreNew `
            -ExecutionTimeLimit (New-TimeSpan -Minutes 10)
        Register-ScheduledTask -TaskPath '\speebpf\' -TaskName 'keyword-refresh' -Action $action `
            -Trigger $trigger -Principal $principal -Settings $settings -Force | Out-Null
    } elseif (Get-ScheduledTask -TaskPath '\speebpf\' -TaskName 'keyword-refresh' -ErrorAction SilentlyContinue) {
        Unregister-ScheduledTask -TaskPath '\speebpf\' -TaskName 'keyword-refresh' -Confirm:$false
    }
} catch {
    throw ("speebpf: failed at $step`: $($_.Exception.Message). Group speebpf may hold rules of " +
        "the old and the new policy (both only allow); correct the cause and run the script again.")
}
Write-Host ("speebpf: group speebpf holds the policy of host {0} (default inbound {1}, outbound {2})" -f
    $Policy.Host, $Policy.DefaultInboundAction, $Policy.DefaultOutboundAction)
