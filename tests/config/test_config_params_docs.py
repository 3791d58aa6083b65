"""The parameter table's coverage and the documents generated from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mailflow.config.docs import differences_page, parameters_page
from mailflow.config.params import _TABLE, PARAMS

DOCS = Path(__file__).resolve().parents[2] / "docs"

# Parameters the components rely on (trivial-rewrite, cleanup, queue, qmgr,
# local, virtual, bounce, smtpd); each must be in the table.
REQUIRED = """
myorigin mydestination inet_interfaces proxy_interfaces virtual_alias_domains
virtual_mailbox_domains relay_domains local_transport virtual_transport relay_transport
default_transport transport_maps relayhost sender_dependent_relayhost_maps
sender_dependent_default_transport_maps parent_domain_matches_subdomains swap_bangpath
allow_percent_hack append_at_myorigin append_dot_mydomain recipient_delimiter
resolve_dequoted_address resolve_null_domain resolve_numeric_domain empty_address_recipient
canonical_maps sender_canonical_maps recipient_canonical_maps canonical_classes
masquerade_domains masquerade_exceptions masquerade_classes remote_header_rewrite_domain
local_header_rewrite_clients virtual_alias_maps virtual_alias_recursion_limit
virtual_alias_expansion_limit duplicate_filter_limit enable_original_recipient header_checks
mime_header_checks nested_header_checks body_checks header_size_limit
header_address_token_limit body_checks_size_limit message_size_limit hopcount_limit
always_add_missing_headers undisclosed_recipients_header propagate_unmatched_extensions
queue_directory hash_queue_names hash_queue_depth enable_long_queue_ids maillog_file
syslog_name mail_owner default_privs qmgr_message_active_limit qmgr_message_recipient_limit
default_destination_concurrency_limit initial_destination_concurrency
default_destination_concurrency_positive_feedback default_destination_concurrency_negative_feedback
default_destination_concurrency_failed_cohort_limit default_destination_recipient_limit
default_destination_rate_delay default_process_limit minimal_backoff_time maximal_backoff_time
queue_run_delay maximal_queue_lifetime bounce_queue_lifetime delay_warning_time alias_maps
alias_database forward_path local_recipient_maps mail_spool_directory home_mailbox
mailbox_command mailbox_size_limit mailbox_delivery_lock allow_mail_to_commands
allow_mail_to_files virtual_mailbox_base virtual_mailbox_maps virtual_uid_maps virtual_gid_maps
virtual_mailbox_limit virtual_minimum_uid command_time_limit bounce_template_file
bounce_size_limit 2bounce_notice_recipient bounce_notice_recipient notify_classes
smtpd_client_restrictions smtpd_helo_restrictions smtpd_sender_restrictions
smtpd_relay_restrictions smtpd_recipient_restrictions smtpd_data_restrictions mynetworks
smtpd_forbid_bare_newline smtpd_forbid_bare_newline_exclusions config_directory
compatibility_level
""".split()


@pytest.mark.parametrize("name", REQUIRED)
def test_required_parameter_is_in_the_table(name):
    """Every parameter the components use has a default in the table."""
    assert name in PARAMS


def test_table_is_sorted_and_has_no_duplicates():
    """The table lists each name once, sorted like postconf's output."""
    names = [p.name for p in _TABLE]
    assert names == sorted(set(names))


def test_design_differences_are_marked():
    """The deliberate differences of the design are marked differs=."""
    assert {n for n, p in PARAMS.items() if p.differs} >= {
        "syslog_name", "smtpd_forbid_bare_newline", "queue_directory", "config_directory"}
    assert (PARAMS["smtpd_forbid_bare_newline"].default,
            PARAMS["smtpd_forbid_bare_newline_exclusions"].default) == ("normalize", "$mynetworks")


@pytest.mark.parametrize("page,render", [("parameters.md", parameters_page),
                                         ("differences.md", differences_page)],
                         ids=["parameters", "differences"])
def test_committed_reference_page_is_up_to_date(page, render):
    """docs/reference/PAGE equals what the table renders (regenerate with
    ``python -m mailflow.config.docs docs/reference``)."""
    assert (DOCS / "reference" / page).read_text() == render()


def test_differences_page_lists_every_difference():
    """Each differs= and host= parameter has a row on the differences page."""
    page = differences_page()
    for name, param in PARAMS.items():
        if param.differs or param.host:
            assert f"| `{name}` |" in page


def test_configuration_page_example_runs():
    """The Python example in docs/configuration.md runs as written."""
    text = (DOCS / "configuration.md").read_text()
    [code] = re.findall(r"```python\n(.*?)```", text, re.S)
    exec(compile(code, "configuration.md", "exec"), {})
