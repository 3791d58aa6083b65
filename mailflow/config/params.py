"""Every parameter mailflow knows, once: name, Postfix default, type, unit.

This table is the single source for defaults: ``postconf -d``, the typed
config view and the reference docs (docs/reference/parameters.md and
differences.md, made by :mod:`mailflow.config.docs`) are generated from it.
It owns names, defaults and types; it never reads files or the host.

Defaults are Postfix 3.7's built-in ones (``postconf -d NAME``) evaluated at
``compatibility_level = 3.6``, the level a fresh Postfix install writes.
Time parameters keep the default unit postconf(5) documents (a bare
``maximal_queue_lifetime = 7`` means seven days). Deliberate differences are
marked ``differs=`` with the reason; defaults that Postfix computes from the
host are marked ``host=`` saying how (mailflow computes them the same way at
run time where it can, see :mod:`mailflow.config.host`). The one-line ``doc``
is the first sentence of the parameter's postconf(5) entry. Parameters marked
``raw=True`` are never ``$name``-expanded by the configuration: the daemon
that uses them expands its own macros (``forward_path``'s ``$home``,
``default_rbl_reply``'s ``$rbl_code``), as Postfix's "raw" parameters.

>>> PARAMS["maximal_queue_lifetime"].default, PARAMS["maximal_queue_lifetime"].unit
('5d', 'd')
>>> PARAMS["mydestination"].kind
<Kind.LIST: 'list'>
>>> TRANSPORT_DEFAULTS["destination_concurrency_limit"]
'$default_destination_concurrency_limit'
"""

from __future__ import annotations

import enum

import attrs


class Kind(enum.Enum):
    """The type of a parameter value, as the typed view returns it.

    >>> Kind.TIME.value
    'time'
    """

    STR = "string"
    LIST = "list"        # separated by commas and/or whitespace -> list[str]
    INT = "integer"      # -> int
    BOOL = "boolean"     # yes/no -> bool
    TIME = "time"        # number + optional unit s/m/h/d/w -> seconds; see Param.unit
    SIZE = "size"        # bytes -> int


@attrs.frozen
class Param:
    """One main.cf parameter.

    >>> Param("x", "1", Kind.INT).unit
    's'
    """

    name: str
    default: str
    kind: Kind = Kind.STR
    unit: str = "s"            # default unit for TIME values (postconf(5))
    doc: str = ""
    differs: str = ""          # why mailflow's default is not Postfix's
    host: str = ""             # how Postfix derives this default from the host
    raw: bool = False          # never $name-expanded by config: the daemon expands it


def _p(name: str, default: str, kind: Kind = Kind.STR, **kw: str) -> Param:
    return Param(name, default, kind, **kw)


S, L, I, B, T, Z = Kind.STR, Kind.LIST, Kind.INT, Kind.BOOL, Kind.TIME, Kind.SIZE

# Generated once from `postconf -d` and postconf(5) of Postfix 3.7.11, then
# edited by hand where marked differs=/host=; sorted by name like postconf.
_TABLE: list[Param] = [
    _p("2bounce_notice_recipient", "postmaster",
       doc="The recipient of undeliverable mail that cannot be returned to the sender."),
    _p("access_map_defer_code", "450", I,
       doc="The numerical Postfix SMTP server response code for an access(5) map \"defer\" "
           "action, including \"defer_if_permit\" or \"defer_if_reject\"."),
    _p("access_map_reject_code", "554", I,
       doc="The numerical Postfix SMTP server response code for an access(5) map \"reject\""
           " action."),
    _p("alias_database", "hash:/etc/aliases", L,
       doc="The alias databases for local(8) delivery that are updated with \"newaliases\" "
           "or with \"sendmail -bi\"."),
    _p("alias_maps", "hash:/etc/aliases", L,
       differs="Postfix's upstream default also lists nis:mail.aliases; mailflow has no "
                "NIS table type (Debian's Postfix writes the same value).",
       doc="The alias databases that are used for local(8) delivery."),
    _p("allow_mail_to_commands", "alias, forward", L,
       doc="Restrict local(8) mail delivery to external commands."),
    _p("allow_mail_to_files", "alias, forward", L,
       doc="Restrict local(8) mail delivery to external files."),
    _p("allow_min_user", "no", B,
       doc="Allow a sender or recipient address to have `-' as the first character."),
    _p("allow_percent_hack", "yes", B,
       doc="Enable the rewriting of the form \"user%domain\" to \"user@domain\"."),
    _p("allow_untrusted_routing", "no", B,
       doc="Forward mail with sender-specified routing (user[@%!]remote[@%!]site) from "
           "untrusted clients to destinations matching $relay_domains."),
    _p("alternate_config_directories", "", L,
       doc="A list of non-default Postfix configuration directories that may be specified"
           " with \"-c config_directory\" on the command line (in the case of sendmail(1), "
           "with the \"-C\" option), or via the MAIL_CONFIG environment parameter."),
    _p("always_add_missing_headers", "no", B,
       doc="Always add (Resent-) From:, To:, Date: or Message-ID: headers when not "
           "present."),
    _p("always_bcc", "",
       doc="Optional address that receives a \"blind carbon copy\" of each message that is "
           "received by the Postfix mail system."),
    _p("anvil_rate_time_unit", "60s", T,
       doc="The time unit over which client connection rates and other rates are "
           "calculated."),
    _p("append_at_myorigin", "yes", B,
       doc="With locally submitted mail, append the string \"@$myorigin\" to mail addresses"
           " without domain information."),
    _p("append_dot_mydomain", "no", B,
       doc="With locally submitted mail, append the string \".$mydomain\" to addresses that"
           " have no \".domain\" information."),
    _p("application_event_drain_time", "100s", T,
       doc="How long the postkick(1) command waits for a request to enter the Postfix "
           "daemon process input buffer before giving up."),
    _p("authorized_flush_users", "static:anyone", L,
       doc="List of users who are authorized to flush the queue."),
    _p("authorized_mailq_users", "static:anyone", L,
       doc="List of users who are authorized to view the queue."),
    _p("authorized_submit_users", "static:anyone", L,
       doc="List of users who are authorized to submit mail with the sendmail(1) command "
           "(and with the privileged postdrop(1) helper command)."),
    _p("authorized_verp_clients", "", L),
    _p("backwards_bounce_logfile_compatibility", "yes", B,
       doc="Produce additional bounce(8) logfile records that can be read by Postfix "
           "versions before 2.0."),
    _p("biff", "yes", B,
       doc="Whether or not to use the local biff service."),
    _p("body_checks", "", L,
       doc="Optional lookup tables for content inspection as specified in the "
           "body_checks(5) manual page."),
    _p("body_checks_size_limit", "51200", Z,
       doc="How much text in a message body segment (or attachment, if you prefer to use "
           "that term) is subjected to body_checks inspection."),
    _p("bounce_notice_recipient", "postmaster",
       doc="The recipient of postmaster notifications with the message headers of mail "
           "that Postfix did not deliver and of SMTP conversation transcripts of mail "
           "that Postfix did not receive."),
    _p("bounce_queue_lifetime", "5d", T, unit="d",
       doc="Consider a bounce message as undeliverable, when delivery fails with a "
           "temporary error, and the time in the queue has reached the "
           "bounce_queue_lifetime limit."),
    _p("bounce_service_name", "bounce",
       doc="The name of the bounce(8) service."),
    _p("bounce_size_limit", "50000", Z,
       doc="The maximal amount of original message text that is sent in a non-delivery "
           "notification."),
    _p("bounce_template_file", "",
       doc="Pathname of a configuration file with bounce message templates."),
    _p("canonical_classes", "envelope_sender, envelope_recipient, header_sender, header_recipient", L,
       doc="What addresses are subject to canonical_maps address mapping."),
    _p("canonical_maps", "", L,
       doc="Optional address mapping lookup tables for message headers and envelopes."),
    _p("cleanup_replace_stray_cr_lf", "yes", B,
       doc="Replace each stray <CR> or <LF> character in message content with a space "
           "character, to prevent outbound SMTP smuggling, and to make the evaluation of "
           "Postfix-added DKIM or other signatures independent from how a remote mail "
           "server handles such characters."),
    _p("cleanup_rules", "", L,
       differs="mailflow only (Postfix has no such parameter): the names of header/body "
                "rules registered from Python or installed as mailflow.cleanup_rules "
                "plug-ins, asked after header_checks and body_checks.",
       doc="Named content rules that the cleanup server applies after the header and "
           "body checks."),
    _p("cleanup_service_name", "cleanup",
       doc="The name of the cleanup(8) service."),
    _p("command_execution_directory", "", raw=True,
       doc="The local(8) delivery agent working directory for delivery to external "
           "commands."),
    _p("command_expansion_filter", "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
       doc="Restrict the characters that the local(8) delivery agent allows in $name "
           "expansions of $mailbox_command and $command_execution_directory."),
    _p("command_time_limit", "1000s", T,
       doc="Time limit for delivery to external commands."),
    _p("compatibility_level", "3.6",
       differs="Postfix's built-in default is 0, but a fresh Postfix install writes 3.6 "
                "into main.cf; mailflow's defaults are those of level 3.6, so the level "
                "says so.",
       doc="A safety net that causes Postfix to run with backwards-compatible default "
           "settings after an upgrade to a newer Postfix version."),
    _p("config_directory", "/etc/mailflow",
       differs="mailflow's own directory; any directory works with -c DIR or "
                "$MAILFLOW_CONFIG_DIR.",
       doc="The default location of the Postfix main.cf and master.cf configuration "
           "files."),
    _p("confirm_delay_cleared", "no", B,
       doc="After sending a \"your message is delayed\" notification, inform the sender "
           "when the delay clears up."),
    _p("content_filter", "",
       doc="After the message is queued, send the entire message to the specified "
           "transport:destination."),
    _p("daemon_table_open_error_is_fatal", "no", B,
       doc="How a Postfix daemon process handles errors while opening lookup tables: "
           "gradual degradation or immediate termination."),
    _p("daemon_timeout", "18000s", T,
       doc="How much time a Postfix daemon process may take to handle a request before it"
           " is terminated by a built-in watchdog timer."),
    _p("data_directory", "/var/lib/mailflow",
       differs="mailflow's own data directory.",
       doc="The directory with Postfix-writable data files (for example: caches, "
           "pseudo-random numbers)."),
    _p("debug_peer_level", "2", I,
       doc="The increment in verbose logging level when a nexthop destination, remote "
           "client or server name or network address matches a pattern given with the "
           "debug_peer_list parameter."),
    _p("debug_peer_list", "", L,
       doc="Optional list of nexthop destination, remote client or server name or network"
           " address patterns that, if matched, cause the verbose logging level to "
           "increase by the amount specified in $debug_peer_level."),
    _p("default_database_type", "hash",
       doc="The default database type for use in newaliases(1), postalias(1) and "
           "postmap(1) commands."),
    _p("default_delivery_slot_cost", "5", I,
       doc="How often the Postfix queue manager's scheduler is allowed to preempt "
           "delivery of one message with another."),
    _p("default_delivery_slot_discount", "50", I,
       doc="The default value for transport-specific _delivery_slot_discount settings."),
    _p("default_delivery_slot_loan", "3", I,
       doc="The default value for transport-specific _delivery_slot_loan settings."),
    _p("default_delivery_status_filter", "",
       doc="Optional filter to replace the delivery status code or explanatory text of "
           "successful or unsuccessful deliveries."),
    _p("default_destination_concurrency_failed_cohort_limit", "1", I,
       doc="How many pseudo-cohorts must suffer connection or handshake failure before a "
           "specific destination is considered unavailable (and further delivery is "
           "suspended)."),
    _p("default_destination_concurrency_limit", "20", I,
       doc="The default maximal number of parallel deliveries to the same destination."),
    _p("default_destination_concurrency_negative_feedback", "1", I,
       doc="The per-destination amount of delivery concurrency negative feedback, after a"
           " delivery completes with a connection or handshake failure."),
    _p("default_destination_concurrency_positive_feedback", "1", I,
       doc="The per-destination amount of delivery concurrency positive feedback, after a"
           " delivery completes without connection or handshake failure."),
    _p("default_destination_rate_delay", "0s", T,
       doc="The default amount of delay that is inserted between individual message "
           "deliveries to the same destination and over the same message delivery "
           "transport."),
    _p("default_destination_recipient_limit", "50", I,
       doc="The default maximal number of recipients per message delivery."),
    _p("default_extra_recipient_limit", "1000", I,
       doc="The default value for the extra per-transport limit imposed on the number of "
           "in-memory recipients."),
    _p("default_filter_nexthop", "",
       doc="When a content_filter or FILTER request specifies no explicit next-hop "
           "destination, use $default_filter_nexthop instead; when that value is empty, "
           "use the domain in the recipient address."),
    _p("default_minimum_delivery_slots", "3", I,
       doc="How many recipients a message must have in order to invoke the Postfix queue "
           "manager's scheduling algorithm at all."),
    _p("default_privs", "nobody",
       doc="The default rights used by the local(8) delivery agent for delivery to an "
           "external file or command."),
    _p("default_process_limit", "100", I,
       doc="The default maximal number of Postfix child processes that provide a given "
           "service."),
    _p("default_rbl_reply", "$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using $rbl_domain${rbl_reason?; $rbl_reason}",
       raw=True,
       doc="The default Postfix SMTP server response template for a request that is "
           "rejected by an RBL-based restriction."),
    _p("default_recipient_limit", "20000", I,
       doc="The default per-transport upper limit on the number of in-memory recipients."),
    _p("default_recipient_refill_delay", "5s", T,
       doc="The default per-transport maximum delay between refilling recipients."),
    _p("default_recipient_refill_limit", "100", I,
       doc="The default per-transport limit on the number of recipients refilled at once."),
    _p("default_transport", "smtp",
       doc="The default mail delivery transport and next-hop destination for destinations"
           " that do not match $mydestination, $inet_interfaces, $proxy_interfaces, "
           "$virtual_alias_domains, $virtual_mailbox_domains, or $relay_domains."),
    _p("default_transport_rate_delay", "0s", T,
       doc="The default amount of delay that is inserted between individual message "
           "deliveries over the same message delivery transport, regardless of "
           "destination."),
    _p("default_verp_delimiters", "+=",
       doc="The two default VERP delimiter characters."),
    _p("defer_code", "450", I,
       doc="The numerical Postfix SMTP server response code when a remote SMTP client "
           "request is rejected by the \"defer\" restriction."),
    _p("delay_logging_resolution_limit", "2", I,
       doc="The maximal number of digits after the decimal point when logging sub-second "
           "delay values."),
    _p("delay_notice_recipient", "postmaster",
       doc="The recipient of postmaster notifications with the message headers of mail "
           "that cannot be delivered within $delay_warning_time time units."),
    _p("delay_warning_time", "0h", T, unit="h",
       doc="The time after which the sender receives a copy of the message headers of "
           "mail that is still queued."),
    _p("deliver_lock_attempts", "20", I,
       doc="The maximal number of attempts to acquire an exclusive lock on a mailbox file"
           " or bounce(8) logfile."),
    _p("deliver_lock_delay", "1s", T,
       doc="The time between attempts to acquire an exclusive lock on a mailbox file or "
           "bounce(8) logfile."),
    _p("detect_8bit_encoding_header", "yes", B,
       doc="Automatically detect 8BITMIME body content by looking at "
           "Content-Transfer-Encoding: message headers; historically, this behavior was "
           "hard-coded to be \"always on\"."),
    _p("disable_dns_lookups", "no", B,
       doc="Disable DNS lookups in the Postfix SMTP and LMTP clients."),
    _p("disable_mime_input_processing", "no", B,
       doc="Turn off MIME processing while receiving mail."),
    _p("disable_mime_output_conversion", "no", B,
       doc="Disable the conversion of 8BITMIME format to 7BIT format."),
    _p("disable_verp_bounces", "no", B,
       doc="Disable sending one bounce report per recipient."),
    _p("disable_vrfy_command", "no", B,
       doc="Disable the SMTP VRFY command."),
    _p("dns_nameservers", "", L,
       doc="The DNS servers (host or host:port, IPv4 or [IPv6]) that the SMTP and LMTP "
           "clients ask; empty means the system's resolver (/etc/resolv.conf).",
       differs="A mailflow extension (Postfix always uses the system's resolver): points "
               "the smtp/lmtp DNS lookups at a given server, for tests and sandboxes."),
    _p("dont_remove", "0", I,
       doc="Don't remove queue files and save them to the \"saved\" mail queue."),
    _p("double_bounce_sender", "double-bounce",
       doc="The sender address of postmaster notifications that are generated by the mail"
           " system."),
    _p("duplicate_filter_limit", "1000", I,
       doc="The maximal number of addresses remembered by the address duplicate filter "
           "for aliases(5) or virtual(5) alias expansion, or for showq(8) queue displays."),
    _p("empty_address_default_transport_maps_lookup_key", "<>",
       doc="The sender_dependent_default_transport_maps search string that will be used "
           "instead of the null sender address."),
    _p("empty_address_local_login_sender_maps_lookup_key", "<>",
       doc="The lookup key to be used in local_login_sender_maps tables, instead of the "
           "null sender address."),
    _p("empty_address_recipient", "MAILER-DAEMON",
       doc="The recipient of mail addressed to the null address."),
    _p("empty_address_relayhost_maps_lookup_key", "<>",
       doc="The sender_dependent_relayhost_maps search string that will be used instead "
           "of the null sender address."),
    _p("enable_idna2003_compatibility", "no", B,
       doc="Enable 'transitional' compatibility between IDNA2003 and IDNA2008, when "
           "converting UTF-8 domain names to/from the ASCII form that is used for DNS "
           "lookups."),
    _p("enable_long_queue_ids", "no", B,
       doc="Enable long, non-repeating, queue IDs (queue file names)."),
    _p("enable_original_recipient", "yes", B,
       doc="Enable support for the original recipient address after an address is "
           "rewritten to a different address (for example with aliasing or with canonical"
           " mapping)."),
    _p("enable_threaded_bounces", "no", B,
       doc="Enable non-delivery, success, and delay notifications that link to the "
           "original message by including a References: and In-Reply-To: header with the "
           "original Message-ID value."),
    _p("error_notice_recipient", "postmaster",
       doc="The recipient of postmaster notifications about mail delivery problems that "
           "are caused by policy, resource, software or protocol errors."),
    _p("expand_owner_alias", "no", B,
       doc="When delivering to an alias \"aliasname\" that has an \"owner-aliasname\" "
           "companion alias, set the envelope sender address to the expansion of the "
           "\"owner-aliasname\" alias."),
    _p("export_environment", "TZ MAIL_CONFIG LANG", L,
       doc="The list of environment variables that a Postfix process will export to "
           "non-Postfix processes."),
    _p("fallback_relay", "", L),
    _p("fallback_transport", "",
       doc="Optional message delivery transport that the local(8) delivery agent should "
           "use for names that are not found in the aliases(5) or UNIX password database."),
    _p("fallback_transport_maps", "", L,
       doc="Optional lookup tables with per-recipient message delivery transports for "
           "recipients that the local(8) delivery agent could not find in the aliases(5) "
           "or UNIX password database."),
    _p("fast_flush_domains", "$relay_domains", L,
       doc="Optional list of destinations that are eligible for per-destination logfiles "
           "with mail that is queued to those destinations; an ETRN for another domain is "
           "refused with 459.",
       differs="mailflow keeps no per-destination logfile: an ETRN makes due every deferred "
               "message with a pending recipient at that domain, found by reading the "
               "envelopes in deferred/."),
    _p("fork_attempts", "5", I,
       doc="The maximal number of attempts to fork() a child process."),
    _p("fork_delay", "1s", T,
       doc="The delay between attempts to fork() a child process."),
    _p("forward_path", "$home/.forward${recipient_delimiter}${extension}, $home/.forward", L,
       raw=True,
       doc="The local(8) delivery agent search list for finding a .forward file with "
           "user-specified delivery methods."),
    _p("frozen_delivered_to", "yes", B,
       doc="Update the local(8) delivery agent's idea of the Delivered-To: address (see "
           "prepend_delivered_header) only once, at the start of a delivery attempt; do "
           "not update the Delivered-To: address while expanding aliases or .forward "
           "files."),
    _p("hash_queue_depth", "1", I,
       doc="The number of subdirectory levels for queue directories listed with the "
           "hash_queue_names parameter."),
    _p("hash_queue_names", "deferred, defer", L,
       doc="The names of queue directories that are split across multiple subdirectory "
           "levels."),
    _p("header_address_token_limit", "10240", I,
       doc="The maximal number of address tokens are allowed in an address message "
           "header."),
    _p("header_checks", "", L,
       doc="Optional lookup tables for content inspection of primary non-MIME message "
           "headers, as specified in the header_checks(5) manual page."),
    _p("header_from_format", "standard",
       doc="The format of the Postfix-generated From: header."),
    _p("header_size_limit", "102400", Z,
       doc="The maximal amount of memory in bytes for storing a message header."),
    _p("helpful_warnings", "yes", B,
       doc="Log warnings about problematic configuration settings, and provide helpful "
           "suggestions."),
    _p("home_mailbox", "",
       doc="Optional pathname of a mailbox file relative to a local(8) user's home "
           "directory."),
    _p("hopcount_limit", "50", I,
       doc="The maximal number of Received: message headers that is allowed in the "
           "primary message headers."),
    _p("import_environment", "MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ XAUTHORITY DISPLAY LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME", L,
       doc="The list of environment variables that a privileged Postfix process will "
           "import from a non-Postfix parent process, or name=value environment "
           "overrides."),
    _p("in_flow_delay", "1s", T,
       doc="Time to pause before accepting a new message, when the message arrival rate "
           "exceeds the message delivery rate."),
    _p("inet_interfaces", "all", L,
       doc="The network interface addresses that this mail system receives mail on."),
    _p("inet_protocols", "all", L,
       doc="The Internet protocols Postfix will attempt to use when making or accepting "
           "connections."),
    _p("info_log_address_format", "external",
       doc="The email address form that will be used in non-debug logging (info, warning,"
           " etc.)."),
    _p("initial_destination_concurrency", "5", I,
       doc="The initial per-destination concurrency level for parallel delivery to the "
           "same destination."),
    _p("internal_mail_filter_classes", "", L,
       doc="What categories of Postfix-generated mail are subject to before-queue content"
           " inspection by non_smtpd_milters, header_checks and body_checks."),
    _p("invalid_hostname_reject_code", "501", I,
       doc="The numerical Postfix SMTP server response code when the client HELO or EHLO "
           "command parameter is rejected by the reject_invalid_helo_hostname "
           "restriction."),
    _p("ipc_idle", "5s", T,
       doc="The time after which a client closes an idle internal communication channel."),
    _p("ipc_timeout", "3600s", T,
       doc="The time limit for sending or receiving information over an internal "
           "communication channel."),
    _p("ipc_ttl", "1000s", T,
       doc="The time after which a client closes an active internal communication "
           "channel."),
    _p("line_length_limit", "2048", Z,
       doc="Upon input, long lines are chopped up into pieces of at most this length; "
           "upon delivery, long lines are reconstructed."),
    _p("lmtp_address_preference", "any",
       doc="The LMTP-specific version of the smtp_address_preference configuration "
           "parameter."),
    _p("lmtp_address_verify_target", "rcpt",
       doc="The LMTP-specific version of the smtp_address_verify_target configuration "
           "parameter."),
    _p("lmtp_assume_final", "no", B,
       doc="When a remote LMTP server announces no DSN support, assume that the server "
           "performs final delivery, and send \"delivered\" delivery status notifications "
           "instead of \"relayed\"."),
    _p("lmtp_balance_inet_protocols", "yes", B,
       doc="The LMTP-specific version of the smtp_balance_inet_protocols configuration "
           "parameter."),
    _p("lmtp_bind_address", "",
       doc="The LMTP-specific version of the smtp_bind_address configuration parameter."),
    _p("lmtp_bind_address6", "",
       doc="The LMTP-specific version of the smtp_bind_address6 configuration parameter."),
    _p("lmtp_bind_address_enforce", "no", B,
       doc="The LMTP-specific version of the smtp_bind_address_enforce configuration "
           "parameter."),
    _p("lmtp_body_checks", "", L,
       doc="The LMTP-specific version of the smtp_body_checks configuration parameter."),
    _p("lmtp_cname_overrides_servername", "no", B,
       doc="The LMTP-specific version of the smtp_cname_overrides_servername "
           "configuration parameter."),
    _p("lmtp_connect_timeout", "0s", T,
       doc="The Postfix LMTP client time limit for completing a TCP connection, or zero "
           "(use the operating system built-in time limit)."),
    _p("lmtp_connection_cache_destinations", "", L,
       doc="The LMTP-specific version of the smtp_connection_cache_destinations "
           "configuration parameter."),
    _p("lmtp_connection_cache_on_demand", "yes", B,
       doc="The LMTP-specific version of the smtp_connection_cache_on_demand "
           "configuration parameter."),
    _p("lmtp_connection_cache_time_limit", "2s", T,
       doc="The LMTP-specific version of the smtp_connection_cache_time_limit "
           "configuration parameter."),
    _p("lmtp_connection_reuse_count_limit", "0", I,
       doc="The LMTP-specific version of the smtp_connection_reuse_count_limit "
           "configuration parameter."),
    _p("lmtp_connection_reuse_time_limit", "300s", T,
       doc="The LMTP-specific version of the smtp_connection_reuse_time_limit "
           "configuration parameter."),
    _p("lmtp_data_done_timeout", "600s", T,
       doc="The Postfix LMTP client time limit for sending the LMTP \".\", and for "
           "receiving the remote LMTP server response."),
    _p("lmtp_data_init_timeout", "120s", T,
       doc="The Postfix LMTP client time limit for sending the LMTP DATA command, and for"
           " receiving the remote LMTP server response."),
    _p("lmtp_data_xfer_timeout", "180s", T,
       doc="The Postfix LMTP client time limit for sending the LMTP message content."),
    _p("lmtp_defer_if_no_mx_address_found", "no", B,
       doc="The LMTP-specific version of the smtp_defer_if_no_mx_address_found "
           "configuration parameter."),
    _p("lmtp_delivery_status_filter", "$default_delivery_status_filter",
       doc="The LMTP-specific version of the smtp_delivery_status_filter configuration "
           "parameter."),
    _p("lmtp_discard_lhlo_keyword_address_maps", "", L,
       doc="Lookup tables, indexed by the remote LMTP server address, with case "
           "insensitive lists of LHLO keywords (pipelining, starttls, auth, etc.) that "
           "the Postfix LMTP client will ignore in the LHLO response from a remote LMTP "
           "server."),
    _p("lmtp_discard_lhlo_keywords", "", L,
       doc="A case insensitive list of LHLO keywords (pipelining, starttls, auth, etc.) "
           "that the Postfix LMTP client will ignore in the LHLO response from a remote "
           "LMTP server."),
    _p("lmtp_dns_reply_filter", "",
       doc="Optional filter for Postfix LMTP client DNS lookup results."),
    _p("lmtp_dns_resolver_options", "", L,
       doc="The LMTP-specific version of the smtp_dns_resolver_options configuration "
           "parameter."),
    _p("lmtp_dns_support_level", "",
       doc="The LMTP-specific version of the smtp_dns_support_level configuration "
           "parameter."),
    _p("lmtp_enforce_tls", "no", B,
       doc="The LMTP-specific version of the smtp_enforce_tls configuration parameter."),
    _p("lmtp_fallback_relay", "", L,
       doc="Optional list of relay hosts for LMTP destinations that can't be found or "
           "that are unreachable."),
    _p("lmtp_generic_maps", "", L,
       doc="The LMTP-specific version of the smtp_generic_maps configuration parameter."),
    _p("lmtp_header_checks", "", L,
       doc="The LMTP-specific version of the smtp_header_checks configuration parameter."),
    _p("lmtp_host_lookup", "dns",
       doc="The LMTP-specific version of the smtp_host_lookup configuration parameter."),
    _p("lmtp_lhlo_name", "$myhostname",
       doc="The hostname to send in the LMTP LHLO command."),
    _p("lmtp_lhlo_timeout", "300s", T,
       doc="The Postfix LMTP client time limit for sending the LHLO command, and for "
           "receiving the initial remote LMTP server response."),
    _p("lmtp_line_length_limit", "998", I,
       doc="The LMTP-specific version of the smtp_line_length_limit configuration "
           "parameter."),
    _p("lmtp_mail_timeout", "300s", T,
       doc="The Postfix LMTP client time limit for sending the MAIL FROM command, and for"
           " receiving the remote LMTP server response."),
    _p("lmtp_mime_header_checks", "", L,
       doc="The LMTP-specific version of the smtp_mime_header_checks configuration "
           "parameter."),
    _p("lmtp_min_data_rate", "500", I,
       doc="The LMTP-specific version of the smtp_min_data_rate configuration parameter."),
    _p("lmtp_mx_address_limit", "5", I,
       doc="The LMTP-specific version of the smtp_mx_address_limit configuration "
           "parameter."),
    _p("lmtp_mx_session_limit", "2", I,
       doc="The LMTP-specific version of the smtp_mx_session_limit configuration "
           "parameter."),
    _p("lmtp_nested_header_checks", "", L,
       doc="The LMTP-specific version of the smtp_nested_header_checks configuration "
           "parameter."),
    _p("lmtp_per_record_deadline", ""),
    _p("lmtp_per_request_deadline", "${lmtp_per_record_deadline?{$lmtp_per_record_deadline}:{no}}", B,
       doc="The LMTP-specific version of the smtp_per_request_deadline configuration "
           "parameter."),
    _p("lmtp_pix_workaround_delay_time", "10s", T,
       doc="The LMTP-specific version of the smtp_pix_workaround_delay_time configuration"
           " parameter."),
    _p("lmtp_pix_workaround_maps", "", L,
       doc="The LMTP-specific version of the smtp_pix_workaround_maps configuration "
           "parameter."),
    _p("lmtp_pix_workaround_threshold_time", "500s", T,
       doc="The LMTP-specific version of the smtp_pix_workaround_threshold_time "
           "configuration parameter."),
    _p("lmtp_pix_workarounds", "disable_esmtp,delay_dotcrlf", L,
       doc="The LMTP-specific version of the smtp_pix_workaround configuration parameter."),
    _p("lmtp_quit_timeout", "300s", T,
       doc="The Postfix LMTP client time limit for sending the QUIT command, and for "
           "receiving the remote LMTP server response."),
    _p("lmtp_quote_rfc821_envelope", "yes", B,
       doc="The LMTP-specific version of the smtp_quote_rfc821_envelope configuration "
           "parameter."),
    _p("lmtp_randomize_addresses", "yes", B,
       doc="The LMTP-specific version of the smtp_randomize_addresses configuration "
           "parameter."),
    _p("lmtp_rcpt_timeout", "300s", T,
       doc="The Postfix LMTP client time limit for sending the RCPT TO command, and for "
           "receiving the remote LMTP server response."),
    _p("lmtp_reply_filter", "",
       doc="The LMTP-specific version of the smtp_reply_filter configuration parameter."),
    _p("lmtp_rset_timeout", "20s", T,
       doc="The Postfix LMTP client time limit for sending the RSET command, and for "
           "receiving the remote LMTP server response."),
    _p("lmtp_sasl_auth_enable", "no", B,
       doc="Enable SASL authentication in the Postfix LMTP client."),
    _p("lmtp_sasl_password_maps", "", L,
       doc="Optional Postfix LMTP client lookup tables with one username:password entry "
           "per host or domain."),
    _p("lmtp_sasl_security_options", "noplaintext, noanonymous", L,
       doc="The LMTP-specific version of the smtp_sasl_security_options configuration "
           "parameter."),
    _p("lmtp_sasl_tls_security_options", "$lmtp_sasl_security_options", L,
       doc="The LMTP-specific version of the smtp_sasl_tls_security_options configuration "
           "parameter."),
    _p("lmtp_send_dummy_mail_auth", "no", B,
       doc="The LMTP-specific version of the smtp_send_dummy_mail_auth configuration "
           "parameter."),
    _p("lmtp_send_xforward_command", "no", B,
       doc="Send an XFORWARD command to the remote LMTP server when the LMTP LHLO server "
           "response announces XFORWARD support."),
    _p("lmtp_sender_dependent_authentication", "no", B,
       doc="The LMTP-specific version of the smtp_sender_dependent_authentication "
           "configuration parameter."),
    _p("lmtp_skip_5xx_greeting", "yes", B,
       doc="The LMTP-specific version of the smtp_skip_5xx_greeting configuration "
           "parameter."),
    _p("lmtp_skip_quit_response", "no", B,
       doc="Wait for the response to the LMTP QUIT command."),
    _p("lmtp_starttls_timeout", "300s", T,
       doc="The LMTP-specific version of the smtp_starttls_timeout configuration "
           "parameter."),
    _p("lmtp_tcp_port", "24", I,
       doc="The default TCP port that the Postfix LMTP client connects to."),
    _p("lmtp_tls_CAfile", "",
       doc="The LMTP-specific version of the smtp_tls_CAfile configuration parameter."),
    _p("lmtp_tls_CApath", "",
       doc="The LMTP-specific version of the smtp_tls_CApath configuration parameter."),
    _p("lmtp_tls_cert_file", "",
       doc="The LMTP-specific version of the smtp_tls_cert_file configuration parameter."),
    _p("lmtp_tls_ciphers", "medium",
       doc="The LMTP-specific version of the smtp_tls_ciphers configuration parameter."),
    _p("lmtp_tls_exclude_ciphers", "", L,
       doc="The LMTP-specific version of the smtp_tls_exclude_ciphers configuration "
           "parameter."),
    _p("lmtp_tls_fingerprint_cert_match", "", L,
       doc="The LMTP-specific version of the smtp_tls_fingerprint_cert_match "
           "configuration parameter."),
    _p("lmtp_tls_fingerprint_digest", "sha256",
       doc="The LMTP-specific version of the smtp_tls_fingerprint_digest configuration "
           "parameter."),
    _p("lmtp_tls_key_file", "$lmtp_tls_cert_file",
       doc="The LMTP-specific version of the smtp_tls_key_file configuration parameter."),
    _p("lmtp_tls_mandatory_ciphers", "medium",
       doc="The LMTP-specific version of the smtp_tls_mandatory_ciphers configuration "
           "parameter."),
    _p("lmtp_tls_mandatory_exclude_ciphers", "", L,
       doc="The LMTP-specific version of the smtp_tls_mandatory_exclude_ciphers "
           "configuration parameter."),
    _p("lmtp_tls_mandatory_protocols", ">=TLSv1",
       doc="The LMTP-specific version of the smtp_tls_mandatory_protocols configuration "
           "parameter."),
    _p("lmtp_tls_policy_maps", "", L,
       doc="The LMTP-specific version of the smtp_tls_policy_maps configuration parameter."),
    _p("lmtp_tls_protocols", ">=TLSv1",
       doc="The LMTP-specific version of the smtp_tls_protocols configuration parameter."),
    _p("lmtp_tls_secure_cert_match", "nexthop", L,
       doc="The LMTP-specific version of the smtp_tls_secure_cert_match configuration "
           "parameter."),
    _p("lmtp_tls_security_level", "",
       doc="The LMTP-specific version of the smtp_tls_security_level configuration "
           "parameter."),
    _p("lmtp_tls_servername", "",
       doc="The LMTP-specific version of the smtp_tls_servername configuration parameter."),
    _p("lmtp_tls_verify_cert_match", "hostname", L,
       doc="The LMTP-specific version of the smtp_tls_verify_cert_match configuration "
           "parameter."),
    _p("lmtp_use_tls", "no", B,
       doc="The LMTP-specific version of the smtp_use_tls configuration parameter."),
    _p("lmtp_xforward_timeout", "300s", T,
       doc="The Postfix LMTP client time limit for sending the XFORWARD command, and for "
           "receiving the remote LMTP server response."),
    _p("local_command_shell", "",
       doc="Optional shell program for local(8) delivery to non-Postfix commands."),
    _p("local_delivery_status_filter", "$default_delivery_status_filter",
       doc="Optional filter for the local(8) delivery agent to change the status code or "
           "explanatory text of successful or unsuccessful deliveries."),
    _p("local_destination_concurrency_limit", "2", I,
       doc="The maximal number of parallel deliveries via the local mail delivery transport "
           "to the same recipient (when \"local_destination_recipient_limit = 1\") or the "
           "maximal number of parallel deliveries to the same local domain (when "
           "\"local_destination_recipient_limit > 1\")."),
    _p("local_destination_recipient_limit", "1", I,
       doc="The maximal number of recipients per message delivery via the local mail "
           "delivery transport."),
    _p("local_header_rewrite_clients", "permit_inet_interfaces", L,
       doc="Rewrite message header addresses in mail from these clients and update "
           "incomplete addresses with the domain name in $myorigin or $mydomain; either "
           "don't rewrite message headers from other clients at all, or rewrite message "
           "headers and update incomplete addresses with the domain specified in the "
           "remote_header_rewrite_domain parameter."),
    _p("local_login_sender_maps", "static:*", L,
       doc="A list of lookup tables that are searched by the UNIX login name, and that "
           "return a list of allowed envelope sender patterns separated by space or "
           "comma."),
    _p("local_recipient_maps", "proxy:unix:passwd.byname $alias_maps", L,
       doc="Lookup tables with all names or addresses of local recipients: a recipient "
           "address is local when its domain matches $mydestination, $inet_interfaces or "
           "$proxy_interfaces."),
    _p("local_transport", "local:$myhostname",
       doc="The default mail delivery transport and next-hop destination for final "
           "delivery to domains listed with mydestination, and for [ipaddress] "
           "destinations that match $inet_interfaces or $proxy_interfaces."),
    _p("luser_relay", "", raw=True,
       doc="Optional catch-all destination for unknown local(8) recipients."),
    _p("mail_name", "mailflow",
       differs="The software names itself in the SMTP greeting and in Received: headers.",
       doc="The mail system name that is displayed in Received: headers, in the SMTP "
           "greeting banner, and in bounced mail."),
    _p("mail_owner", "mailflow",
       differs="mailflow's own account; honoured only when running as root.",
       doc="The UNIX system account that owns the Postfix queue and most Postfix daemon "
           "processes."),
    _p("mail_spool_directory", "/var/mail",
       doc="The directory where local(8) UNIX-style mailboxes are kept."),
    _p("mailbox_command", "", raw=True,
       doc="Optional external command that the local(8) delivery agent should use for "
           "mailbox delivery."),
    _p("mailbox_command_maps", "", L,
       doc="Optional lookup tables with per-recipient external commands to use for "
           "local(8) mailbox delivery."),
    _p("mailbox_delivery_lock", "fcntl, dotlock", L,
       doc="How to lock a UNIX-style local(8) mailbox before attempting delivery."),
    _p("mailbox_size_limit", "51200000", Z,
       doc="The maximal size of any local(8) individual mailbox or maildir file, or zero "
           "(no limit)."),
    _p("mailbox_transport", "",
       doc="Optional message delivery transport that the local(8) delivery agent should "
           "use for mailbox delivery to all local recipients, whether or not they are "
           "found in the UNIX passwd database."),
    _p("mailbox_transport_maps", "", L,
       doc="Optional lookup tables with per-recipient message delivery transports to use "
           "for local(8) mailbox delivery, whether or not the recipients are found in the"
           " UNIX passwd database."),
    _p("maillog_file", "",
       doc="The name of an optional logfile that is written by the Postfix postlogd(8) "
           "service."),
    _p("maillog_file_compressor", "gzip",
       doc="The program to run after rotating $maillog_file with \"postfix logrotate\"."),
    _p("maillog_file_prefixes", "/var, /dev/stdout", L,
       doc="A list of allowed prefixes for a maillog_file value."),
    _p("maillog_file_rotate_suffix", "%Y%m%d-%H%M%S",
       doc="The format of the suffix to append to $maillog_file while rotating the file "
           "with \"postfix logrotate\"."),
    _p("maps_rbl_domains", "", L,
       doc="Obsolete feature: use the reject_rbl_client feature instead."),
    _p("maps_rbl_reject_code", "554", I,
       doc="The numerical Postfix SMTP server response code when a remote SMTP client "
           "request is blocked by the reject_rbl_client, reject_rhsbl_client, "
           "reject_rhsbl_reverse_client, reject_rhsbl_sender or reject_rhsbl_recipient "
           "restriction."),
    _p("masquerade_classes", "envelope_sender, header_sender, header_recipient", L,
       doc="What addresses are subject to address masquerading."),
    _p("masquerade_domains", "", L,
       doc="Optional list of domains whose subdomain structure will be stripped off in "
           "email addresses."),
    _p("masquerade_exceptions", "", L,
       doc="Optional list of user names that are not subjected to address masquerading, "
           "even when their addresses match $masquerade_domains."),
    _p("max_idle", "100s", T,
       doc="The maximum amount of time that an idle Postfix daemon process waits for an "
           "incoming connection before terminating voluntarily."),
    _p("max_use", "100", I,
       doc="The maximal number of incoming connections that a Postfix daemon process will"
           " service before terminating voluntarily."),
    _p("maximal_backoff_time", "4000s", T,
       doc="The maximal time between attempts to deliver a deferred message."),
    _p("maximal_queue_lifetime", "5d", T, unit="d",
       doc="Consider a message as undeliverable, when delivery fails with a temporary "
           "error, and the time in the queue has reached the maximal_queue_lifetime "
           "limit."),
    _p("message_drop_headers", "bcc, content-length, resent-bcc, return-path", L,
       doc="Names of message headers that the cleanup(8) daemon will remove after "
           "applying header_checks(5) and before invoking Milter applications."),
    _p("message_reject_characters", "",
       doc="The set of characters that Postfix will reject in message content."),
    _p("message_size_limit", "10240000", Z,
       doc="The maximal size in bytes of a message, including envelope information."),
    _p("message_strip_characters", "",
       doc="The set of characters that Postfix will remove from message content."),
    _p("milter_command_timeout", "30s", T,
       doc="The time limit for sending an SMTP command to a Milter (mail filter) "
           "application, and for receiving the response."),
    _p("milter_connect_macros", "j {daemon_name} {daemon_addr} v _", L,
       doc="The macros that are sent to Milter (mail filter) applications after "
           "completion of an SMTP connection."),
    _p("milter_connect_timeout", "30s", T,
       doc="The time limit for connecting to a Milter (mail filter) application, and for "
           "negotiating protocol options."),
    _p("milter_content_timeout", "300s", T,
       doc="The time limit for sending message content to a Milter (mail filter) "
           "application, and for receiving the response."),
    _p("milter_data_macros", "i", L,
       doc="The macros that are sent to version 4 or higher Milter (mail filter) "
           "applications after the SMTP DATA command."),
    _p("milter_default_action", "tempfail",
       doc="The default action when a Milter (mail filter) response is unavailable (for "
           "example, bad Postfix configuration or Milter failure)."),
    _p("milter_end_of_data_macros", "i", L,
       doc="The macros that are sent to Milter (mail filter) applications after the "
           "message end-of-data."),
    _p("milter_end_of_header_macros", "i", L,
       doc="The macros that are sent to Milter (mail filter) applications after the end "
           "of the message header."),
    _p("milter_header_checks", "", L,
       doc="Optional lookup tables for content inspection of message headers that are "
           "produced by Milter applications."),
    _p("milter_helo_macros", "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}", L,
       doc="The macros that are sent to Milter (mail filter) applications after the SMTP "
           "HELO or EHLO command."),
    _p("milter_macro_daemon_name", "$myhostname",
       doc="The {daemon_name} macro value for Milter (mail filter) applications."),
    _p("milter_macro_defaults", "",
       doc="Optional list of name=value pairs that specify default values for arbitrary "
           "macros that Postfix may send to Milter applications."),
    _p("milter_mail_macros", "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}", L,
       doc="The macros that are sent to Milter (mail filter) applications after the SMTP "
           "MAIL FROM command."),
    _p("milter_protocol", "6", I,
       doc="The mail filter protocol version and optional protocol extensions for "
           "communication with a Milter application; prior to Postfix 2.6 the default "
           "protocol is 2."),
    _p("milter_rcpt_macros", "i {rcpt_addr} {rcpt_host} {rcpt_mailer}", L,
       doc="The macros that are sent to Milter (mail filter) applications after the SMTP "
           "RCPT TO command."),
    _p("milter_unknown_command_macros", "", L,
       doc="The macros that are sent to version 3 or higher Milter (mail filter) "
           "applications after an unknown SMTP command."),
    _p("mime_boundary_length_limit", "2048", I,
       doc="The maximal length of MIME multipart boundary strings."),
    _p("mime_header_checks", "$header_checks", L,
       doc="Optional lookup tables for content inspection of MIME related message "
           "headers, as described in the header_checks(5) manual page."),
    _p("mime_nesting_limit", "100", I,
       doc="The maximal recursion level that the MIME processor will handle."),
    _p("minimal_backoff_time", "300s", T,
       doc="The minimal time between attempts to deliver a deferred message; prior to "
           "Postfix 2.4 the default value was 1000s."),
    _p("multi_instance_name", ""),
    _p("multi_recipient_bounce_reject_code", "550", I,
       doc="The numerical Postfix SMTP server response code when a remote SMTP client "
           "request is blocked by the reject_multi_recipient_bounce restriction."),
    _p("mydestination", "$myhostname, localhost.$mydomain, localhost", L,
       doc="The list of domains that are delivered via the $local_transport mail delivery"
           " transport."),
    _p("mydomain", "localdomain",
       host="$myhostname minus its first label, or localdomain",
       doc="The internet domain name of this mail system."),
    _p("myhostname", "localhost.localdomain",
       host="the name from gethostname(); without a dot, that name plus .$mydomain "
            "(or .localdomain when mydomain is not set)",
       doc="The internet hostname of this mail system."),
    _p("mynetworks", "127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128", L,
       host="Postfix (mynetworks_style = host) adds the host's own interface addresses; "
             "mailflow lists only the loopback networks",
       doc="The list of \"trusted\" remote SMTP clients that have more privileges than "
           "\"strangers\"."),
    _p("mynetworks_style", "host",
       doc="The method to generate the default value for the mynetworks parameter."),
    _p("myorigin", "$myhostname",
       doc="The domain name that locally-posted mail appears to come from, and that "
           "locally posted mail is delivered to."),
    _p("nested_header_checks", "$header_checks", L,
       doc="Optional lookup tables for content inspection of non-MIME message headers in "
           "attached messages, as described in the header_checks(5) manual page."),
    _p("non_fqdn_reject_code", "504", I,
       doc="The numerical Postfix SMTP server reply code when a client request is "
           "rejected by the reject_non_fqdn_helo_hostname, reject_non_fqdn_sender or "
           "reject_non_fqdn_recipient restriction."),
    _p("non_smtpd_milters", "", L,
       doc="A list of Milter (mail filter) applications for new mail that does not arrive"
           " via the Postfix smtpd(8) server."),
    _p("notify_classes", "resource, software", L,
       doc="The list of error classes that are reported to the postmaster."),
    _p("owner_request_special", "yes", B,
       doc="Enable special treatment for owner-listname entries in the aliases(5) file, "
           "and don't split owner-listname and listname-request address localparts when "
           "the recipient_delimiter is set to \"-\"."),
    _p("parent_domain_matches_subdomains", "debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,qmqpd_authorized_clients,relay_domains,smtpd_access_maps", L,
       doc="A list of Postfix features where the pattern \"example.com\" also matches "
           "subdomains of example.com, instead of requiring an explicit \".example.com\" "
           "pattern."),
    _p("permit_mx_backup_networks", "", L,
       doc="Restrict the use of the permit_mx_backup SMTP access feature to only domains "
           "whose primary MX hosts match the listed networks."),
    _p("plaintext_reject_code", "450", I,
       doc="The numerical Postfix SMTP server response code when a request is rejected by"
           " the reject_plaintext_session restriction."),
    _p("postlog_service_name", "postlog",
       doc="The name of the postlogd(8) service entry in master.cf."),
    _p("postlogd_watchdog_timeout", "10s", T,
       doc="How much time a postlogd(8) process may take to process a request before it "
           "is terminated by a built-in watchdog timer."),
    _p("prepend_delivered_header", "command, file, forward", L,
       doc="The message delivery contexts where the Postfix local(8) delivery agent "
           "prepends a Delivered-To: message header with the address that the mail was "
           "delivered to."),
    _p("process_id_directory", "pid",
       doc="The location of Postfix PID files relative to $queue_directory."),
    _p("propagate_unmatched_extensions", "canonical, virtual", L,
       doc="What address lookup tables copy an address extension from the lookup key to "
           "the lookup result."),
    _p("proxy_interfaces", "", L,
       doc="The network interface addresses that this mail system receives mail on by way"
           " of a proxy or network address translation unit."),
    _p("qmgr_clog_warn_time", "300s", T,
       doc="The minimal delay between warnings that a specific destination is clogging up"
           " the Postfix active queue."),
    _p("qmgr_daemon_timeout", "1000s", T,
       doc="How much time a Postfix queue manager process may take to handle a request "
           "before it is terminated by a built-in watchdog timer."),
    _p("qmgr_fudge_factor", "100", I,
       doc="Obsolete feature: the percentage of delivery resources that a busy mail "
           "system will use up for delivery of a large mailing list message."),
    _p("qmgr_ipc_timeout", "60s", T,
       doc="The time limit for the queue manager to send or receive information over an "
           "internal communication channel."),
    _p("qmgr_message_active_limit", "20000", I,
       doc="The maximal number of messages in the active queue."),
    _p("qmgr_message_recipient_limit", "20000", I,
       doc="The maximal number of recipients held in memory by the Postfix queue manager,"
           " and the maximal size of the short-term, in-memory \"dead\" destination status "
           "cache."),
    _p("qmgr_message_recipient_minimum", "10", I,
       doc="The minimal number of in-memory recipients for any message."),
    _p("queue_directory", "/var/spool/mailflow",
       differs="mailflow's own spool; any writable directory works, no root needed.",
       doc="The location of the Postfix top-level queue directory."),
    _p("queue_file_attribute_count_limit", "100", I,
       doc="The maximal number of (name=value) attributes that may be stored in a Postfix"
           " queue file."),
    _p("queue_minfree", "0", Z,
       doc="The minimal amount of free space in bytes in the queue file system that is "
           "needed to receive mail."),
    _p("queue_run_delay", "300s", T,
       doc="The time between deferred queue scans by the queue manager; prior to Postfix "
           "2.4 the default value was 1000s."),
    _p("queue_service_name", "qmgr",
       doc="The name of the qmgr(8) service."),
    _p("rbl_reply_maps", "", L,
       doc="Optional lookup tables with RBL response templates."),
    _p("receive_override_options", "", L,
       doc="Enable or disable recipient validation, built-in content filtering, or "
           "address mapping."),
    _p("recipient_bcc_maps", "", L,
       doc="Optional BCC (blind carbon-copy) address lookup tables, indexed by recipient "
           "address."),
    _p("recipient_canonical_classes", "envelope_recipient, header_recipient", L,
       doc="What addresses are subject to recipient_canonical_maps address mapping."),
    _p("recipient_canonical_maps", "", L,
       doc="Optional address mapping lookup tables for envelope and header recipient "
           "addresses."),
    _p("recipient_delimiter", "",
       doc="The set of characters that can separate an email address localpart, user "
           "name, or a .forward file name from its extension."),
    _p("reject_code", "554", I,
       doc="The numerical Postfix SMTP server response code when a remote SMTP client "
           "request is rejected by the \"reject\" restriction."),
    _p("reject_tempfail_action", "defer_if_permit",
       doc="The Postfix SMTP server's action when a reject-type restriction fails due to "
           "a temporary error condition."),
    _p("relay_clientcerts", "",
       doc="List of tables with remote SMTP client-certificate fingerprints or public key"
           " fingerprints (Postfix 2.9 and later) for which the Postfix SMTP server will "
           "allow access with the permit_tls_clientcerts feature."),
    _p("relay_domains", "", L,
       doc="What destination domains (and subdomains thereof) this system will relay mail"
           " to."),
    _p("relay_domains_reject_code", "554", I,
       doc="The numerical Postfix SMTP server response code when a client request is "
           "rejected by the reject_unauth_destination recipient restriction."),
    _p("relay_recipient_maps", "", L,
       doc="Optional lookup tables with all valid addresses in the domains that match "
           "$relay_domains."),
    _p("relay_transport", "relay",
       doc="The default mail delivery transport and next-hop destination for remote "
           "delivery to domains listed with $relay_domains."),
    _p("relayhost", "",
       doc="The next-hop destination(s) for non-local mail; overrides non-local domains "
           "in recipient addresses."),
    _p("relocated_maps", "", L,
       doc="Optional lookup tables with new contact information for users or domains that"
           " no longer exist."),
    _p("remote_header_rewrite_domain", "",
       doc="Don't rewrite message headers from remote clients at all when this parameter "
           "is empty; otherwise, rewrite message headers and append the specified domain "
           "name to incomplete addresses."),
    _p("require_home_directory", "no", B,
       doc="Require that a local(8) recipient's home directory exists before mail "
           "delivery is attempted."),
    _p("resolve_dequoted_address", "yes", B,
       doc="Resolve a recipient address safely instead of correctly, by looking inside "
           "quotes."),
    _p("resolve_null_domain", "no", B,
       doc="Resolve an address that ends in the \"@\" null domain as if the local hostname "
           "were specified, instead of rejecting the address as invalid."),
    _p("resolve_numeric_domain", "no", B,
       doc="Resolve \"user@ipaddress\" as \"user@[ipaddress]\", instead of rejecting the "
           "address as invalid."),
    _p("respectful_logging", "yes", B,
       doc="Avoid logging that implies white is better than black."),
    _p("sender_bcc_maps", "", L,
       doc="Optional BCC (blind carbon-copy) address lookup tables, indexed by sender "
           "address."),
    _p("sender_canonical_classes", "envelope_sender, header_sender", L,
       doc="What addresses are subject to sender_canonical_maps address mapping."),
    _p("sender_canonical_maps", "", L,
       doc="Optional address mapping lookup tables for envelope and header sender "
           "addresses."),
    _p("sender_dependent_default_transport_maps", "", L,
       doc="A sender-dependent override for the global default_transport parameter "
           "setting."),
    _p("sender_dependent_relayhost_maps", "", L,
       doc="A sender-dependent override for the global relayhost parameter setting."),
    _p("sendmail_fix_line_endings", "always",
       doc="Controls how the Postfix sendmail command converts email message line endings"
           " from <CR><LF> into UNIX format (<LF>)."),
    _p("service_throttle_time", "60s", T,
       doc="How long the Postfix master(8) waits before forking a server that appears to "
           "be malfunctioning."),
    _p("setgid_group", "mailflow",
       differs="mailflow's own group; honoured only when running as root.",
       doc="The group ownership of set-gid Postfix commands and of group-writable Postfix"
           " directories."),
    _p("show_user_unknown_table_name", "yes", B,
       doc="Display the name of the recipient table in the \"User unknown\" responses."),
    _p("smtp_address_preference", "any",
       doc="The address type (\"ipv6\", \"ipv4\" or \"any\") that the Postfix SMTP client will "
           "try first, when a destination has IPv6 and IPv4 addresses with equal MX "
           "preference."),
    _p("smtp_address_verify_target", "rcpt",
       doc="In the context of email address verification, the SMTP protocol stage that "
           "determines whether an email address is deliverable."),
    _p("smtp_always_send_ehlo", "yes", B,
       doc="Always send EHLO at the start of an SMTP session."),
    _p("smtp_balance_inet_protocols", "yes", B,
       doc="When a remote destination resolves to a combination of IPv4 and IPv6 "
           "addresses, ensure that the Postfix SMTP client can try both address types "
           "before it runs into the smtp_mx_address_limit."),
    _p("smtp_bind_address", "",
       doc="An optional numerical network address that the Postfix SMTP client should "
           "bind to when making an IPv4 connection."),
    _p("smtp_bind_address6", "",
       doc="An optional numerical network address that the Postfix SMTP client should "
           "bind to when making an IPv6 connection."),
    _p("smtp_bind_address_enforce", "no", B,
       doc="Defer delivery when the Postfix SMTP client cannot apply the "
           "smtp_bind_address or smtp_bind_address6 setting."),
    _p("smtp_body_checks", "", L,
       doc="Restricted body_checks(5) tables for the Postfix SMTP client."),
    _p("smtp_cname_overrides_servername", "no", B,
       doc="When the remote SMTP servername is a DNS CNAME, replace the servername with "
           "the result from CNAME expansion for the purpose of logging, SASL password "
           "lookup, TLS policy decisions, or TLS certificate verification."),
    _p("smtp_connect_timeout", "30s", T,
       doc="The Postfix SMTP client time limit for completing a TCP connection, or zero "
           "(use the operating system built-in time limit)."),
    _p("smtp_connection_cache_destinations", "", L,
       doc="Permanently enable SMTP connection caching for the specified destinations."),
    _p("smtp_connection_cache_on_demand", "yes", B,
       doc="Temporarily enable SMTP connection caching while a destination has a high "
           "volume of mail in the active queue."),
    _p("smtp_connection_cache_time_limit", "2s", T,
       doc="When SMTP connection caching is enabled, the amount of time that an unused "
           "SMTP client socket is kept open before it is closed."),
    _p("smtp_connection_reuse_count_limit", "0", I,
       doc="When SMTP connection caching is enabled, the number of times that an SMTP "
           "session may be reused before it is closed, or zero (no limit)."),
    _p("smtp_connection_reuse_time_limit", "300s", T,
       doc="The amount of time during which Postfix will use an SMTP connection "
           "repeatedly."),
    _p("smtp_data_done_timeout", "600s", T,
       doc="The Postfix SMTP client time limit for sending the SMTP \".\", and for "
           "receiving the remote SMTP server response."),
    _p("smtp_data_init_timeout", "120s", T,
       doc="The Postfix SMTP client time limit for sending the SMTP DATA command, and for"
           " receiving the remote SMTP server response."),
    _p("smtp_data_xfer_timeout", "180s", T,
       doc="The Postfix SMTP client time limit for sending the SMTP message content."),
    _p("smtp_defer_if_no_mx_address_found", "no", B,
       doc="Defer mail delivery when no MX record resolves to an IP address."),
    _p("smtp_delivery_status_filter", "$default_delivery_status_filter",
       doc="Optional filter for the smtp(8) delivery agent to change the delivery status "
           "code or explanatory text of successful or unsuccessful deliveries."),
    _p("smtp_discard_ehlo_keyword_address_maps", "", L,
       doc="Lookup tables, indexed by the remote SMTP server address, with case "
           "insensitive lists of EHLO keywords (pipelining, starttls, auth, etc.) that "
           "the Postfix SMTP client will ignore in the EHLO response from a remote SMTP "
           "server."),
    _p("smtp_discard_ehlo_keywords", "", L,
       doc="A case insensitive list of EHLO keywords (pipelining, starttls, auth, etc.) "
           "that the Postfix SMTP client will ignore in the EHLO response from a remote "
           "SMTP server."),
    _p("smtp_dns_reply_filter", "",
       doc="Optional filter for Postfix SMTP client DNS lookup results."),
    _p("smtp_dns_resolver_options", "", L,
       doc="DNS Resolver options for the Postfix SMTP client."),
    _p("smtp_dns_support_level", "",
       doc="Level of DNS support in the Postfix SMTP client."),
    _p("smtp_enforce_tls", "no", B,
       doc="Enforcement mode: require that remote SMTP servers use TLS encryption, and "
           "never send mail in the clear."),
    _p("smtp_fallback_relay", "$fallback_relay", L,
       doc="Optional list of relay hosts for SMTP destinations that can't be found or "
           "that are unreachable."),
    _p("smtp_generic_maps", "", L,
       doc="Optional lookup tables that perform address rewriting in the Postfix SMTP "
           "client, typically to transform a locally valid address into a globally valid "
           "address when sending mail across the Internet."),
    _p("smtp_header_checks", "", L,
       doc="Restricted header_checks(5) tables for the Postfix SMTP client."),
    _p("smtp_helo_name", "$myhostname",
       doc="The hostname to send in the SMTP HELO or EHLO command."),
    _p("smtp_helo_timeout", "300s", T,
       doc="The Postfix SMTP client time limit for sending the HELO or EHLO command, and "
           "for receiving the initial remote SMTP server response."),
    _p("smtp_host_lookup", "dns",
       doc="What mechanisms the Postfix SMTP client uses to look up a host's IP address."),
    _p("smtp_line_length_limit", "998", I,
       doc="The maximal length of message header and body lines that Postfix will send "
           "via SMTP."),
    _p("smtp_mail_timeout", "300s", T,
       doc="The Postfix SMTP client time limit for sending the MAIL FROM command, and for"
           " receiving the remote SMTP server response."),
    _p("smtp_mime_header_checks", "", L,
       doc="Restricted mime_header_checks(5) tables for the Postfix SMTP client."),
    _p("smtp_min_data_rate", "500", I,
       doc="The minimum plaintext data transfer rate in bytes/second for DATA requests, "
           "when deadlines are enabled with smtp_per_request_deadline."),
    _p("smtp_mx_address_limit", "5", I,
       doc="The maximal number of MX (mail exchanger) IP addresses that can result from "
           "Postfix SMTP client mail exchanger lookups, or zero (no limit)."),
    _p("smtp_mx_session_limit", "2", I,
       doc="The maximal number of SMTP sessions per delivery request before the Postfix "
           "SMTP client gives up or delivers to a fall-back relay host, or zero (no "
           "limit)."),
    _p("smtp_nested_header_checks", "", L,
       doc="Restricted nested_header_checks(5) tables for the Postfix SMTP client."),
    _p("smtp_never_send_ehlo", "no", B,
       doc="Never send EHLO at the start of an SMTP session."),
    _p("smtp_per_record_deadline", ""),
    _p("smtp_per_request_deadline", "${smtp_per_record_deadline?{$smtp_per_record_deadline}:{no}}", B,
       doc="Change the behavior of the smtp_*_timeout time limits, from a time limit per "
           "plaintext or TLS read or write call, to a combined time limit for sending a "
           "complete SMTP request and for receiving a complete SMTP response."),
    _p("smtp_pix_workaround_delay_time", "10s", T,
       doc="How long the Postfix SMTP client pauses before sending \".<CR><LF>\" in order "
           "to work around the PIX firewall \"<CR><LF>.<CR><LF>\" bug."),
    _p("smtp_pix_workaround_maps", "", L,
       doc="Lookup tables, indexed by the remote SMTP server address, with "
           "per-destination workarounds for CISCO PIX firewall bugs."),
    _p("smtp_pix_workaround_threshold_time", "500s", T,
       doc="How long a message must be queued before the Postfix SMTP client turns on the"
           " PIX firewall \"<CR><LF>.<CR><LF>\" bug workaround for delivery through "
           "firewalls with \"smtp fixup\" mode turned on."),
    _p("smtp_pix_workarounds", "disable_esmtp,delay_dotcrlf", L,
       doc="A list that specifies zero or more workarounds for CISCO PIX firewall bugs."),
    _p("smtp_quit_timeout", "300s", T,
       doc="The Postfix SMTP client time limit for sending the QUIT command, and for "
           "receiving the remote SMTP server response."),
    _p("smtp_quote_rfc821_envelope", "yes", B,
       doc="Quote addresses in Postfix SMTP client MAIL FROM and RCPT TO commands as "
           "required by RFC 5321."),
    _p("smtp_randomize_addresses", "yes", B,
       doc="Randomize the order of equal-preference MX host addresses."),
    _p("smtp_rcpt_timeout", "300s", T,
       doc="The Postfix SMTP client time limit for sending the SMTP RCPT TO command, and "
           "for receiving the remote SMTP server response."),
    _p("smtp_reply_filter", "",
       doc="A mechanism to transform replies from remote SMTP servers one line at a time."),
    _p("smtp_rset_timeout", "20s", T,
       doc="The Postfix SMTP client time limit for sending the RSET command, and for "
           "receiving the remote SMTP server response."),
    _p("smtp_sasl_auth_enable", "no", B,
       doc="Enable SASL authentication in the Postfix SMTP client."),
    _p("smtp_sasl_password_maps", "", L,
       doc="Optional Postfix SMTP client lookup tables with one username:password entry "
           "per sender, remote hostname or next-hop domain."),
    _p("smtp_sasl_security_options", "noplaintext, noanonymous", L,
       doc="Postfix SMTP client SASL security options; as of Postfix 2.3 the list of "
           "available features depends on the SASL client implementation that is selected"
           " with smtp_sasl_type."),
    _p("smtp_sasl_tls_security_options", "$smtp_sasl_security_options", L,
       doc="The SASL authentication security options that the Postfix SMTP client uses for"
           " TLS encrypted SMTP sessions."),
    _p("smtp_send_dummy_mail_auth", "no", B,
       doc="Whether or not to append the \"AUTH=<>\" option to the MAIL FROM command in "
           "SASL-authenticated SMTP sessions."),
    _p("smtp_send_xforward_command", "no", B,
       doc="Send the non-standard XFORWARD command when the Postfix SMTP server EHLO "
           "response announces XFORWARD support."),
    _p("smtp_sender_dependent_authentication", "no", B,
       doc="Enable sender-dependent authentication in the Postfix SMTP client; this is "
           "available only with SASL authentication, and disables SMTP connection caching"
           " to ensure that mail from different senders will use the appropriate "
           "credentials."),
    _p("smtp_skip_5xx_greeting", "yes", B,
       doc="Skip remote SMTP servers that greet with a 5XX status code."),
    _p("smtp_skip_quit_response", "yes", B,
       doc="Do not wait for the response to the SMTP QUIT command."),
    _p("smtp_starttls_timeout", "300s", T,
       doc="Time limit for Postfix SMTP client write and read operations during TLS "
           "startup and shutdown handshake procedures."),
    _p("smtp_tcp_port", "smtp",
       doc="The default TCP port that the Postfix SMTP client connects to."),
    _p("smtp_tls_CAfile", "",
       doc="A file containing CA certificates of root CAs trusted to sign either remote "
           "SMTP server certificates or intermediate CA certificates."),
    _p("smtp_tls_CApath", "",
       doc="Directory with PEM format Certification Authority certificates that the "
           "Postfix SMTP client uses to verify a remote SMTP server certificate."),
    _p("smtp_tls_cert_file", "",
       doc="File with the Postfix SMTP client RSA certificate in PEM format."),
    _p("smtp_tls_ciphers", "medium",
       doc="The minimum TLS cipher grade that the Postfix SMTP client will use with "
           "opportunistic TLS encryption."),
    _p("smtp_tls_exclude_ciphers", "", L,
       doc="List of ciphers or cipher types to exclude from the Postfix SMTP client cipher"
           " list at all TLS security levels."),
    _p("smtp_tls_fingerprint_cert_match", "", L,
       doc="List of acceptable remote SMTP server certificate fingerprints for the "
           "\"fingerprint\" TLS security level (smtp_tls_security_level = fingerprint)."),
    _p("smtp_tls_fingerprint_digest", "sha256",
       doc="The message digest algorithm used to construct remote SMTP server certificate "
           "fingerprints."),
    _p("smtp_tls_key_file", "$smtp_tls_cert_file",
       doc="File with the Postfix SMTP client RSA private key in PEM format."),
    _p("smtp_tls_mandatory_ciphers", "medium",
       doc="The minimum TLS cipher grade that the Postfix SMTP client will use with "
           "mandatory TLS encryption."),
    _p("smtp_tls_mandatory_exclude_ciphers", "", L,
       doc="Additional list of ciphers or cipher types to exclude from the Postfix SMTP "
           "client cipher list at mandatory TLS security levels."),
    _p("smtp_tls_mandatory_protocols", ">=TLSv1",
       doc="TLS protocols that the Postfix SMTP client will use with mandatory TLS "
           "encryption."),
    _p("smtp_tls_policy_maps", "", L,
       doc="Optional lookup tables with the Postfix SMTP client TLS security policy by "
           "next-hop destination; when a non-empty value is specified, this overrides the "
           "obsolete smtp_tls_per_site parameter."),
    _p("smtp_tls_protocols", ">=TLSv1",
       doc="TLS protocols that the Postfix SMTP client will use with opportunistic TLS "
           "encryption."),
    _p("smtp_tls_secure_cert_match", "nexthop, dot-nexthop", L,
       doc="How the Postfix SMTP client verifies the server certificate peername for the "
           "\"secure\" TLS security level."),
    _p("smtp_tls_security_level", "",
       doc="The default SMTP TLS security level for the Postfix SMTP client."),
    _p("smtp_tls_servername", "",
       doc="Optional name to send to the remote SMTP server in the TLS Server Name "
           "Indication (SNI) extension."),
    _p("smtp_tls_verify_cert_match", "hostname", L,
       doc="How the Postfix SMTP client verifies the server certificate peername for the "
           "\"verify\" TLS security level."),
    _p("smtp_use_tls", "no", B,
       doc="Opportunistic mode: use TLS when a remote SMTP server announces STARTTLS "
           "support, otherwise send the mail in the clear."),
    _p("smtp_xforward_timeout", "300s", T,
       doc="The Postfix SMTP client time limit for sending the XFORWARD command, and for "
           "receiving the remote SMTP server response."),
    _p("smtpd_authorized_verp_clients", "$authorized_verp_clients", L,
       doc="What remote SMTP clients are allowed to specify the XVERP command."),
    _p("smtpd_authorized_xclient_hosts", "", L,
       doc="What remote SMTP clients are allowed to use the XCLIENT feature."),
    _p("smtpd_authorized_xforward_hosts", "", L,
       doc="What remote SMTP clients are allowed to use the XFORWARD feature."),
    _p("smtpd_banner", "$myhostname ESMTP $mail_name",
       doc="The text that follows the 220 status code in the SMTP greeting banner."),
    _p("smtpd_client_auth_rate_limit", "0", I,
       doc="The maximal number of AUTH commands that any client is allowed to send to "
           "this service per time unit, regardless of whether or not Postfix actually "
           "accepts those commands."),
    _p("smtpd_client_connection_count_limit", "50", I,
       doc="How many simultaneous connections any client is allowed to make to this "
           "service."),
    _p("smtpd_client_connection_limit_exceptions", "", L),
    _p("smtpd_client_connection_rate_limit", "0", I,
       doc="The maximal number of connection attempts any client is allowed to make to "
           "this service per time unit."),
    _p("smtpd_client_event_limit_exceptions", "${smtpd_client_connection_limit_exceptions:$mynetworks}", L,
       doc="Clients that are excluded from smtpd_client_*_count/rate_limit restrictions."),
    _p("smtpd_client_message_rate_limit", "0", I,
       doc="The maximal number of message delivery requests that any client is allowed to"
           " make to this service per time unit, regardless of whether or not Postfix "
           "actually accepts those messages."),
    _p("smtpd_client_new_tls_session_rate_limit", "0", I,
       doc="The maximal number of new (i.e., uncached) TLS sessions that a remote SMTP "
           "client is allowed to negotiate with this service per time unit."),
    _p("smtpd_client_port_logging", "no", B,
       doc="Enable logging of the remote SMTP client port in addition to the hostname and"
           " IP address."),
    _p("smtpd_client_recipient_rate_limit", "0", I,
       doc="The maximal number of recipient addresses that any client is allowed to send "
           "to this service per time unit, regardless of whether or not Postfix actually "
           "accepts those recipients."),
    _p("smtpd_client_restrictions", "", L,
       doc="Optional restrictions that the Postfix SMTP server applies in the context of "
           "a client connection request."),
    _p("smtpd_command_filter", "",
       doc="A mechanism to transform commands from remote SMTP clients."),
    _p("smtpd_data_restrictions", "", L,
       doc="Optional access restrictions that the Postfix SMTP server applies in the "
           "context of the SMTP DATA command."),
    _p("smtpd_delay_open_until_valid_rcpt", "yes", B,
       doc="Postpone the start of an SMTP mail transaction until a valid RCPT TO command "
           "is received."),
    _p("smtpd_delay_reject", "yes", B,
       doc="Wait until the RCPT TO command before evaluating $smtpd_client_restrictions, "
           "$smtpd_helo_restrictions and $smtpd_sender_restrictions, or wait until the "
           "ETRN command before evaluating $smtpd_client_restrictions and "
           "$smtpd_helo_restrictions."),
    _p("smtpd_discard_ehlo_keyword_address_maps", "", L,
       doc="Lookup tables, indexed by the remote SMTP client address, with case "
           "insensitive lists of EHLO keywords (pipelining, starttls, auth, etc.) that "
           "the Postfix SMTP server will not send in the EHLO response to a remote SMTP "
           "client."),
    _p("smtpd_discard_ehlo_keywords", "", L,
       doc="A case insensitive list of EHLO keywords (pipelining, starttls, auth, etc.) "
           "that the Postfix SMTP server will not send in the EHLO response to a remote "
           "SMTP client."),
    _p("smtpd_dns_reply_filter", "",
       doc="Optional filter for Postfix SMTP server DNS lookup results."),
    _p("smtpd_end_of_data_restrictions", "", L,
       doc="Optional access restrictions that the Postfix SMTP server applies in the "
           "context of the SMTP END-OF-DATA command."),
    _p("smtpd_enforce_tls", "no", B,
       doc="Mandatory TLS: announce STARTTLS support to remote SMTP clients, and require "
           "that clients use TLS encryption."),
    _p("smtpd_error_sleep_time", "1s", T,
       doc="With Postfix version 2.1 and later: the SMTP server response delay after a "
           "client has made more than $smtpd_soft_error_limit errors, and fewer than "
           "$smtpd_hard_error_limit errors, without delivering mail."),
    _p("smtpd_etrn_restrictions", "", L,
       doc="Optional restrictions that the Postfix SMTP server applies in the context of "
           "a client ETRN command."),
    _p("smtpd_expansion_filter", "\\t\\40!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
       raw=True,
       doc="What characters are allowed in $name expansions of RBL reply templates."),
    _p("smtpd_forbid_bare_newline", "normalize",
       differs="Postfix 3.7.11 defaults to no; mailflow uses Postfix 3.9's safe default "
                "so it is never open to SMTP smuggling out of the box.",
       doc="Reject or restrict input lines from an SMTP client that end in <LF> instead "
           "of the standard <CR><LF>."),
    _p("smtpd_forbid_bare_newline_exclusions", "$mynetworks", L,
       doc="Exclude the specified clients from smtpd_forbid_bare_newline enforcement."),
    _p("smtpd_forbid_bare_newline_reject_code", "550", I,
       doc="The numerical Postfix SMTP server response code when rejecting a request with"
           " \"smtpd_forbid_bare_newline = reject\"."),
    _p("smtpd_forbid_unauth_pipelining", "no", B,
       doc="Disconnect remote SMTP clients that violate RFC 2920 (or 5321) command "
           "pipelining constraints."),
    _p("smtpd_forbidden_commands", "CONNECT GET POST regexp:{{/^[^A-Z]/ Bogus}}", L,
       doc="List of commands that cause the Postfix SMTP server to immediately terminate "
           "the session with a 221 code."),
    _p("smtpd_hard_error_limit", "${stress?{1}:{20}}", I,
       doc="The maximal number of errors a remote SMTP client is allowed to make without "
           "delivering mail."),
    _p("smtpd_helo_required", "no", B,
       doc="Require that a remote SMTP client introduces itself with the HELO or EHLO "
           "command before sending the MAIL command or other commands that require EHLO "
           "negotiation."),
    _p("smtpd_helo_restrictions", "", L,
       doc="Optional restrictions that the Postfix SMTP server applies in the context of "
           "a client HELO command."),
    _p("smtpd_history_flush_threshold", "100", I,
       doc="The maximal number of lines in the Postfix SMTP server command history before"
           " it is flushed upon receipt of EHLO, RSET, or end of DATA."),
    _p("smtpd_junk_command_limit", "${stress?{1}:{100}}", I,
       doc="The number of junk commands (NOOP, VRFY, ETRN or RSET) that a remote SMTP "
           "client can send before the Postfix SMTP server starts to increment the error "
           "counter with each junk command."),
    _p("smtpd_log_access_permit_actions", "", L,
       doc="Enable logging of the named \"permit\" actions in SMTP server access lists (by "
           "default, the SMTP server logs \"reject\" actions but not \"permit\" actions)."),
    _p("smtpd_message_memory_limit", "1048576", Z,
       doc="How much of a message smtpd keeps in memory while it arrives; the rest goes to "
           "an unlinked temporary file in the queue directory as it arrives and is copied "
           "into the queue file at the end of DATA, so a session's memory stays bounded "
           "whatever the message size. At least header_size_limit is always kept.",
       differs="A mailflow extension: Postfix's smtpd streams every message to cleanup "
               "as it arrives. Header and body checks see the part kept in memory (Postfix's "
               "body_checks_size_limit is smaller)."),
    _p("smtpd_milter_maps", "", L,
       doc="Lookup tables with Milter settings per remote SMTP client IP address."),
    _p("smtpd_milters", "", L,
       doc="A list of Milter (mail filter) applications for new mail that arrives via the"
           " Postfix smtpd(8) server."),
    _p("smtpd_min_data_rate", "500", I,
       doc="The minimum plaintext data transfer rate in bytes/second for DATA and BDAT "
           "requests, when deadlines are enabled with smtpd_per_request_deadline."),
    _p("smtpd_noop_commands", "", L,
       doc="List of commands that the Postfix SMTP server replies to with \"250 Ok\", "
           "without doing any syntax checks and without changing state."),
    _p("smtpd_null_access_lookup_key", "<>",
       doc="The lookup key to be used in SMTP access(5) tables instead of the null sender"
           " address."),
    _p("smtpd_peername_lookup", "yes", B,
       doc="Attempt to look up the remote SMTP client hostname, and verify that the name "
           "matches the client IP address."),
    _p("smtpd_per_record_deadline", ""),
    _p("smtpd_per_request_deadline", "${smtpd_per_record_deadline?{$smtpd_per_record_deadline}:{${stress?{yes}:{no}}}}", B,
       doc="Change the behavior of the smtpd_timeout and smtpd_starttls_timeout time "
           "limits, from a time limit per plaintext or TLS read or write call, to a "
           "combined time limit for receiving a complete SMTP request and for sending a "
           "complete SMTP response."),
    _p("smtpd_policy_service_default_action", "451 4.3.5 Server configuration problem",
       doc="The default action when an SMTPD policy service request fails."),
    _p("smtpd_policy_service_max_idle", "300s", T,
       doc="The time after which an idle SMTPD policy service connection is closed."),
    _p("smtpd_policy_service_max_ttl", "1000s", T,
       doc="The time after which an active SMTPD policy service connection is closed."),
    _p("smtpd_policy_service_policy_context", "",
       doc="Optional information that the Postfix SMTP server specifies in the "
           "\"policy_context\" attribute of a policy service request (originally, to share "
           "the same service endpoint among multiple check_policy_service clients)."),
    _p("smtpd_policy_service_request_limit", "0", I,
       doc="The maximal number of requests per SMTPD policy service connection, or zero "
           "(no limit)."),
    _p("smtpd_policy_service_retry_delay", "1s", T,
       doc="The delay between attempts to resend a failed SMTPD policy service request."),
    _p("smtpd_policy_service_timeout", "100s", T,
       doc="The time limit for connecting to, writing to, or receiving from a delegated "
           "SMTPD policy server."),
    _p("smtpd_policy_service_try_limit", "2", I,
       doc="The maximal number of attempts to send an SMTPD policy service request before"
           " giving up."),
    _p("smtpd_proxy_ehlo", "$myhostname",
       doc="How the Postfix SMTP server announces itself to the proxy filter."),
    _p("smtpd_proxy_filter", "",
       doc="The hostname and TCP port of the mail filtering proxy server."),
    _p("smtpd_proxy_options", "", L,
       doc="List of options that control how the Postfix SMTP server communicates with a "
           "before-queue content filter."),
    _p("smtpd_proxy_timeout", "100s", T,
       doc="The time limit for connecting to a proxy filter and for sending or receiving "
           "information."),
    _p("smtpd_recipient_limit", "1000", I,
       doc="The maximal number of recipients that the Postfix SMTP server accepts per "
           "message delivery request."),
    _p("smtpd_recipient_overshoot_limit", "1000", I,
       doc="The number of recipients that a remote SMTP client can send in excess of the "
           "limit specified with $smtpd_recipient_limit, before the Postfix SMTP server "
           "increments the per-session error count for each excess recipient."),
    _p("smtpd_recipient_restrictions", "", L,
       doc="Optional restrictions that the Postfix SMTP server applies in the context of "
           "a client RCPT TO command, after smtpd_relay_restrictions."),
    _p("smtpd_reject_footer", "", raw=True,
       doc="Optional information that is appended after each Postfix SMTP server 4XX or "
           "5XX response."),
    _p("smtpd_reject_footer_maps", "", L,
       doc="Lookup tables, indexed by the complete Postfix SMTP server 4xx or 5xx "
           "response, with reject footer templates."),
    _p("smtpd_reject_unlisted_recipient", "yes", B,
       doc="Request that the Postfix SMTP server rejects mail for unknown recipient "
           "addresses, even when no explicit reject_unlisted_recipient access restriction"
           " is specified."),
    _p("smtpd_reject_unlisted_sender", "no", B,
       doc="Request that the Postfix SMTP server rejects mail from unknown sender "
           "addresses, even when no explicit reject_unlisted_sender access restriction is"
           " specified."),
    _p("smtpd_relay_before_recipient_restrictions", "yes", B,
       doc="Evaluate smtpd_relay_restrictions before smtpd_recipient_restrictions."),
    _p("smtpd_relay_restrictions", "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination", L,
       doc="Access restrictions for mail relay control that the Postfix SMTP server "
           "applies in the context of the RCPT TO command, before "
           "smtpd_recipient_restrictions."),
    _p("smtpd_restriction_classes", "", L,
       doc="User-defined aliases for groups of access restrictions."),
    _p("smtpd_sasl_auth_enable", "no", B,
       doc="Enable SASL authentication in the Postfix SMTP server."),
    _p("smtpd_sasl_authenticated_header", "no", B,
       doc="Report the SASL authenticated user name in the smtpd(8) Received message "
           "header."),
    _p("smtpd_sasl_exceptions_networks", "", L,
       doc="What remote SMTP clients the Postfix SMTP server will not offer AUTH support "
           "to."),
    _p("smtpd_sasl_local_domain", "",
       doc="The name of the Postfix SMTP server's local SASL authentication realm."),
    _p("smtpd_sasl_mechanism_filter", "!external, static:rest", L,
       doc="If non-empty, a filter for the SASL mechanism names that the Postfix SMTP "
           "server will announce in the EHLO response."),
    _p("smtpd_sasl_password_maps", "", L,
       differs="A mailflow parameter (Postfix has none): with smtpd_sasl_type = mailflow, "
                "the lookup tables of \"username password-hash\" entries that the SMTP "
                "server checks AUTH PLAIN/LOGIN passwords against.",
       doc="Lookup tables with one username and password hash entry per SASL user, for "
           "smtpd_sasl_type = mailflow."),
    _p("smtpd_sasl_path", "smtpd",
       doc="Implementation-specific information that the Postfix SMTP server passes "
           "through to the SASL plug-in implementation that is selected with "
           "smtpd_sasl_type."),
    _p("smtpd_sasl_response_limit", "12288", I,
       doc="The maximum length of a SASL client's response to a server challenge."),
    _p("smtpd_sasl_security_options", "noanonymous", L,
       doc="Postfix SMTP server SASL security options; as of Postfix 2.3 the list of "
           "available features depends on the SASL server implementation that is selected"
           " with smtpd_sasl_type."),
    _p("smtpd_sasl_service", "smtp",
       doc="The service name that is passed to the SASL plug-in that is selected with "
           "smtpd_sasl_type and smtpd_sasl_path."),
    _p("smtpd_sasl_tls_security_options", "$smtpd_sasl_security_options", L,
       doc="The SASL authentication security options that the Postfix SMTP server uses "
           "for TLS encrypted SMTP sessions."),
    _p("smtpd_sasl_type", "cyrus",
       doc="The SASL plug-in type that the Postfix SMTP server should use for "
           "authentication."),
    _p("smtpd_sender_login_maps", "", L,
       doc="Optional lookup table with the SASL login names that own the sender (MAIL "
           "FROM) addresses."),
    _p("smtpd_sender_restrictions", "", L,
       doc="Optional restrictions that the Postfix SMTP server applies in the context of "
           "a client MAIL FROM command."),
    _p("smtpd_service_name", "smtpd",
       doc="The internal service that postscreen(8) hands off allowed connections to."),
    _p("smtpd_soft_error_limit", "10", I,
       doc="The number of errors a remote SMTP client is allowed to make without "
           "delivering mail before the Postfix SMTP server slows down all its responses."),
    _p("smtpd_starttls_timeout", "${stress?{10}:{300}}s", T,
       doc="The time limit for Postfix SMTP server write and read operations during TLS "
           "startup and shutdown handshake procedures."),
    _p("smtpd_timeout", "${stress?{10}:{300}}s", T,
       doc="When the Postfix SMTP server wants to send an SMTP server response, how long "
           "the Postfix SMTP server will wait for an underlying network write operation "
           "to complete; and when the Postfix SMTP server Postfix wants to receive an "
           "SMTP client request, how long the Postfix SMTP server will wait for an "
           "underlying network read operation to complete."),
    _p("smtpd_tls_CAfile", "",
       doc="A file containing (PEM format) CA certificates of root CAs trusted to sign "
           "either remote SMTP client certificates or intermediate CA certificates."),
    _p("smtpd_tls_CApath", "",
       doc="A directory containing (PEM format) CA certificates of root CAs trusted to "
           "sign either remote SMTP client certificates or intermediate CA certificates."),
    _p("smtpd_tls_always_issue_session_ids", "yes", B,
       doc="Force the Postfix SMTP server to issue a TLS session id, even when TLS "
           "session caching is turned off (smtpd_tls_session_cache_database is empty)."),
    _p("smtpd_tls_ask_ccert", "no", B,
       doc="Ask a remote SMTP client for a client certificate."),
    _p("smtpd_tls_auth_only", "no", B,
       doc="When TLS encryption is optional in the Postfix SMTP server, do not announce "
           "or accept SASL authentication over unencrypted connections."),
    _p("smtpd_tls_ccert_verifydepth", "9", I,
       doc="The verification depth for remote SMTP client certificates."),
    _p("smtpd_tls_cert_file", "",
       doc="File with the Postfix SMTP server RSA certificate in PEM format."),
    _p("smtpd_tls_chain_files", "", L,
       doc="List of one or more PEM files, each holding one or more private keys directly"
           " followed by a corresponding certificate chain."),
    _p("smtpd_tls_ciphers", "medium",
       doc="The minimum TLS cipher grade that the Postfix SMTP server will use with "
           "opportunistic TLS encryption."),
    _p("smtpd_tls_dcert_file", "",
       doc="File with the Postfix SMTP server DSA certificate in PEM format."),
    _p("smtpd_tls_dh1024_param_file", "",
       doc="File with DH parameters that the Postfix SMTP server should use with "
           "non-export EDH ciphers."),
    _p("smtpd_tls_dh512_param_file", "",
       doc="File with DH parameters that the Postfix SMTP server should use with "
           "export-grade EDH ciphers."),
    _p("smtpd_tls_dkey_file", "$smtpd_tls_dcert_file",
       doc="File with the Postfix SMTP server DSA private key in PEM format."),
    _p("smtpd_tls_eccert_file", "",
       doc="File with the Postfix SMTP server ECDSA certificate in PEM format."),
    _p("smtpd_tls_eckey_file", "$smtpd_tls_eccert_file",
       doc="File with the Postfix SMTP server ECDSA private key in PEM format."),
    _p("smtpd_tls_eecdh_grade", "auto",
       doc="The Postfix SMTP server security grade for ephemeral elliptic-curve "
           "Diffie-Hellman (EECDH) key exchange."),
    _p("smtpd_tls_exclude_ciphers", "",
       doc="List of ciphers or cipher types to exclude from the SMTP server cipher list "
           "at all TLS security levels."),
    _p("smtpd_tls_fingerprint_digest", "sha256",
       doc="The message digest algorithm to construct remote SMTP client-certificate "
           "fingerprints or public key fingerprints (Postfix 2.9 and later) for "
           "check_ccert_access and permit_tls_clientcerts."),
    _p("smtpd_tls_key_file", "$smtpd_tls_cert_file",
       doc="File with the Postfix SMTP server RSA private key in PEM format."),
    _p("smtpd_tls_loglevel", "0", I,
       doc="Enable additional Postfix SMTP server logging of TLS activity."),
    _p("smtpd_tls_mandatory_ciphers", "medium",
       doc="The minimum TLS cipher grade that the Postfix SMTP server will use with "
           "mandatory TLS encryption."),
    _p("smtpd_tls_mandatory_exclude_ciphers", "",
       doc="Additional list of ciphers or cipher types to exclude from the Postfix SMTP "
           "server cipher list at mandatory TLS security levels."),
    _p("smtpd_tls_mandatory_protocols", ">=TLSv1",
       doc="TLS protocols accepted by the Postfix SMTP server with mandatory TLS "
           "encryption."),
    _p("smtpd_tls_protocols", ">=TLSv1",
       doc="TLS protocols accepted by the Postfix SMTP server with opportunistic TLS "
           "encryption."),
    _p("smtpd_tls_received_header", "no", B,
       doc="Request that the Postfix SMTP server produces Received: message headers that "
           "include information about the protocol and cipher used, as well as the remote"
           " SMTP client CommonName and client certificate issuer CommonName."),
    _p("smtpd_tls_req_ccert", "no", B,
       doc="With mandatory TLS encryption, require a trusted remote SMTP client "
           "certificate in order to allow TLS connections to proceed."),
    _p("smtpd_tls_security_level", "",
       doc="The SMTP TLS security level for the Postfix SMTP server; when a non-empty "
           "value is specified, this overrides the obsolete parameters smtpd_use_tls and "
           "smtpd_enforce_tls."),
    _p("smtpd_tls_session_cache_database", "",
       doc="Name of the file containing the optional Postfix SMTP server TLS session "
           "cache."),
    _p("smtpd_tls_session_cache_timeout", "3600s", T,
       doc="The expiration time of Postfix SMTP server TLS session cache information."),
    _p("smtpd_tls_wrappermode", "no", B,
       doc="Run the Postfix SMTP server in TLS \"wrapper\" mode, instead of using the "
           "STARTTLS command."),
    _p("smtpd_upstream_proxy_protocol", "",
       doc="The name of the proxy protocol used by an optional before-smtpd proxy agent."),
    _p("smtpd_upstream_proxy_timeout", "5s", T,
       doc="The time limit for the proxy protocol specified with the "
           "smtpd_upstream_proxy_protocol parameter."),
    _p("smtpd_use_tls", "no", B,
       doc="Opportunistic TLS: announce STARTTLS support to remote SMTP clients, but do "
           "not require that clients use TLS encryption."),
    _p("smtpd_worker_processes", "2", I,
       doc="How many worker processes run each smtpd service of master.cf, sharing its "
           "listening sockets and its maxproc session limit; 0 runs smtpd in the master's "
           "own process (as does a master given a store other than the file spool).",
       differs="A mailflow extension: Postfix always runs one smtpd process per session. "
               "Worker processes let smtpd use more than one CPU core."),
    _p("smtputf8_autodetect_classes", "sendmail, verify", L,
       doc="Detect that a message requires SMTPUTF8 support for the specified mail origin"
           " classes."),
    _p("smtputf8_enable", "yes", B,
       doc="Enable preliminary SMTPUTF8 support for the protocols described in RFC 6531, "
           "RFC 6532, and RFC 6533."),
    _p("soft_bounce", "no", B,
       doc="Safety net to keep mail queued that would otherwise be returned to the "
           "sender."),
    _p("stale_lock_time", "500s", T,
       doc="The time after which a stale exclusive mailbox lockfile is removed."),
    _p("stress", "",
       doc="This feature is documented in the STRESS_README document."),
    _p("strict_7bit_headers", "no", B,
       doc="Reject mail with 8-bit text in message headers."),
    _p("strict_8bitmime", "no", B,
       doc="Enable both strict_7bit_headers and strict_8bitmime_body."),
    _p("strict_8bitmime_body", "no", B,
       doc="Reject 8-bit message body text without 8-bit MIME content encoding "
           "information."),
    _p("strict_mailbox_ownership", "yes", B,
       doc="Defer delivery when a mailbox file is not owned by its recipient."),
    _p("strict_mime_encoding_domain", "no", B,
       doc="Reject mail with invalid Content-Transfer-Encoding: information for the "
           "message/* or multipart/* MIME content types."),
    _p("strict_rfc821_envelopes", "no", B,
       doc="Require that addresses received in SMTP MAIL FROM and RCPT TO commands are "
           "enclosed with <>, and that those addresses do not contain RFC 822 style "
           "comments or phrases."),
    _p("strict_smtputf8", "no", B,
       doc="Enable stricter enforcement of the SMTPUTF8 protocol."),
    _p("swap_bangpath", "yes", B,
       doc="Enable the rewriting of \"site!user\" into \"user@site\"."),
    _p("syslog_facility", "mail",
       doc="The syslog facility of Postfix logging."),
    _p("syslog_name", "${multi_instance_name?{$multi_instance_name}:{mailflow}}",
       differs="Log lines read mailflow/qmgr[pid]: instead of postfix/qmgr[pid]: (tools:"
                " pflogsumm --syslog-name=mailflow).",
       doc="A prefix that is prepended to the process name in syslog records, so that, "
           "for example, \"smtpd\" becomes \"prefix/smtpd\"."),
    _p("transport_maps", "", L,
       doc="Optional lookup tables with mappings from recipient address to (message "
           "delivery transport, next-hop destination)."),
    _p("transport_retry_time", "60s", T,
       doc="The time between attempts by the Postfix queue manager to contact a "
           "malfunctioning message delivery transport."),
    _p("trigger_timeout", "10s", T,
       doc="The time limit for sending a trigger to a Postfix daemon (for example, the "
           "pickup(8) or qmgr(8) daemon)."),
    _p("undisclosed_recipients_header", "",
       doc="Message header that the Postfix cleanup(8) server inserts when a message "
           "contains no To: or Cc: message header."),
    _p("unknown_address_reject_code", "450", I,
       doc="The numerical response code when the Postfix SMTP server rejects a sender or "
           "recipient address because its domain is unknown."),
    _p("unknown_address_tempfail_action", "$reject_tempfail_action",
       doc="The Postfix SMTP server's action when reject_unknown_sender_domain or "
           "reject_unknown_recipient_domain fail due to a temporary error condition."),
    _p("unknown_client_reject_code", "450", I,
       doc="The numerical Postfix SMTP server response code when a client without valid "
           "address <=> name mapping is rejected by the reject_unknown_client_hostname "
           "restriction."),
    _p("unknown_helo_hostname_tempfail_action", "$reject_tempfail_action",
       doc="The Postfix SMTP server's action when reject_unknown_helo_hostname fails due "
           "to a temporary error condition."),
    _p("unknown_hostname_reject_code", "450", I,
       doc="The numerical Postfix SMTP server response code when the hostname specified "
           "with the HELO or EHLO command is rejected by the reject_unknown_helo_hostname"
           " restriction."),
    _p("unknown_local_recipient_reject_code", "550", I,
       doc="The numerical Postfix SMTP server response code when a recipient address is "
           "local, and $local_recipient_maps specifies a list of lookup tables that does "
           "not match the recipient."),
    _p("unknown_relay_recipient_reject_code", "550", I,
       doc="The numerical Postfix SMTP server reply code when a recipient address matches"
           " $relay_domains, and relay_recipient_maps specifies a list of lookup tables "
           "that does not match the recipient address."),
    _p("unknown_virtual_alias_reject_code", "550", I,
       doc="The Postfix SMTP server reply code when a recipient address matches "
           "$virtual_alias_domains, and $virtual_alias_maps specifies a list of lookup "
           "tables that does not match the recipient address."),
    _p("unknown_virtual_mailbox_reject_code", "550", I,
       doc="The Postfix SMTP server reply code when a recipient address matches "
           "$virtual_mailbox_domains, and $virtual_mailbox_maps specifies a list of "
           "lookup tables that does not match the recipient address."),
    _p("unverified_recipient_defer_code", "450", I,
       doc="The numerical Postfix SMTP server response when a recipient address probe "
           "fails due to a temporary error condition."),
    _p("unverified_recipient_reject_code", "450", I,
       doc="The numerical Postfix SMTP server response when a recipient address is "
           "rejected by the reject_unverified_recipient restriction."),
    _p("unverified_recipient_reject_reason", "",
       doc="The Postfix SMTP server's reply when rejecting mail with "
           "reject_unverified_recipient."),
    _p("unverified_recipient_tempfail_action", "$reject_tempfail_action",
       doc="The Postfix SMTP server's action when reject_unverified_recipient fails due "
           "to a temporary error condition."),
    _p("unverified_sender_defer_code", "450", I,
       doc="The numerical Postfix SMTP server response code when a sender address probe "
           "fails due to a temporary error condition."),
    _p("unverified_sender_reject_code", "450", I,
       doc="The numerical Postfix SMTP server response code when a recipient address is "
           "rejected by the reject_unverified_sender restriction."),
    _p("unverified_sender_reject_reason", "",
       doc="The Postfix SMTP server's reply when rejecting mail with "
           "reject_unverified_sender."),
    _p("unverified_sender_tempfail_action", "$reject_tempfail_action",
       doc="The Postfix SMTP server's action when reject_unverified_sender fails due to a"
           " temporary error condition."),
    _p("verp_delimiter_filter", "-=+",
       doc="The characters Postfix accepts as VERP delimiter characters on the Postfix "
           "sendmail(1) command line and in SMTP commands."),
    _p("virtual_alias_address_length_limit", "1000", I,
       doc="The maximal length of an email address after virtual alias expansion."),
    _p("virtual_alias_domains", "$virtual_alias_maps", L,
       doc="Postfix is the final destination for the specified list of virtual alias "
           "domains, that is, domains for which all addresses are aliased to addresses in"
           " other local or remote domains."),
    _p("virtual_alias_expansion_limit", "1000", I,
       doc="The maximal number of addresses that virtual alias expansion produces from "
           "each original recipient."),
    _p("virtual_alias_maps", "$virtual_maps", L,
       doc="Optional lookup tables that alias specific mail addresses or domains to other"
           " local or remote addresses."),
    _p("virtual_alias_recursion_limit", "1000", I,
       doc="The maximal nesting depth of virtual alias expansion."),
    _p("virtual_delivery_status_filter", "$default_delivery_status_filter",
       doc="Optional filter for the virtual(8) delivery agent to change the delivery "
           "status code or explanatory text of successful or unsuccessful deliveries."),
    _p("virtual_gid_maps", "", L,
       doc="Lookup tables with the per-recipient group ID for virtual(8) mailbox "
           "delivery."),
    _p("virtual_mailbox_base", "",
       doc="A prefix that the virtual(8) delivery agent prepends to all pathname results "
           "from $virtual_mailbox_maps table lookups."),
    _p("virtual_mailbox_domains", "$virtual_mailbox_maps", L,
       doc="Postfix is the final destination for the specified list of domains; mail is "
           "delivered via the $virtual_transport mail delivery transport."),
    _p("virtual_mailbox_limit", "51200000", Z,
       doc="The maximal size in bytes of an individual virtual(8) mailbox or maildir "
           "file, or zero (no limit)."),
    _p("virtual_mailbox_lock", "fcntl, dotlock", L,
       doc="How to lock a UNIX-style virtual(8) mailbox before attempting delivery."),
    _p("virtual_mailbox_maps", "", L,
       doc="Optional lookup tables with all valid addresses in the domains that match "
           "$virtual_mailbox_domains."),
    _p("virtual_maps", "", L),
    _p("virtual_minimum_uid", "100", I,
       doc="The minimum user ID value that the virtual(8) delivery agent accepts as a "
           "result from $virtual_uid_maps table lookup."),
    _p("virtual_transport", "virtual",
       doc="The default mail delivery transport and next-hop destination for final "
           "delivery to domains listed with $virtual_mailbox_domains."),
    _p("virtual_uid_maps", "", L,
       doc="Lookup tables with the per-recipient user ID that the virtual(8) delivery "
           "agent uses while writing to the recipient's mailbox."),
]

PARAMS: dict[str, Param] = {p.name: p for p in _TABLE}

# Per-transport parameters (qmgr(8), postconf(5) "transport_..."): for a
# master.cf service named TRANSPORT, TRANSPORT_<suffix> defaults to the
# parameter on the right.
_TRANSPORT: dict[str, tuple[Kind, str]] = {
    "delivery_slot_cost": (I, "$default_delivery_slot_cost"),
    "delivery_slot_discount": (I, "$default_delivery_slot_discount"),
    "delivery_slot_loan": (I, "$default_delivery_slot_loan"),
    "destination_concurrency_failed_cohort_limit": (I, "$default_destination_concurrency_failed_cohort_limit"),
    "destination_concurrency_limit": (I, "$default_destination_concurrency_limit"),
    "destination_concurrency_negative_feedback": (S, "$default_destination_concurrency_negative_feedback"),
    "destination_concurrency_positive_feedback": (S, "$default_destination_concurrency_positive_feedback"),
    "destination_rate_delay": (T, "$default_destination_rate_delay"),
    "destination_recipient_limit": (I, "$default_destination_recipient_limit"),
    "extra_recipient_limit": (I, "$default_extra_recipient_limit"),
    "initial_destination_concurrency": (I, "$initial_destination_concurrency"),
    "minimum_delivery_slots": (I, "$default_minimum_delivery_slots"),
    "recipient_limit": (I, "$default_recipient_limit"),
    "recipient_refill_delay": (T, "$default_recipient_refill_delay"),
    "recipient_refill_limit": (I, "$default_recipient_refill_limit"),
    "time_limit": (T, "$command_time_limit"),
    "transport_rate_delay": (T, "$default_transport_rate_delay"),
}

#: suffix -> Kind, for TRANSPORT_<suffix> names.
TRANSPORT_SUFFIXES: dict[str, Kind] = {s: k for s, (k, _) in _TRANSPORT.items()}
#: suffix -> default value text of TRANSPORT_<suffix>.
TRANSPORT_DEFAULTS: dict[str, str] = {s: d for s, (_, d) in _TRANSPORT.items()}
