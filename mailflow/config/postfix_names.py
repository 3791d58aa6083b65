"""Names Postfix 3.7 knows that mailflow does not implement.

Data only: the parameters ``postconf -d`` of Postfix 3.7.11 lists (with an
empty master.cf) that are not in :data:`mailflow.config.params.PARAMS`. A
main.cf that sets one of them gets "not implemented by mailflow" instead of
"unknown parameter", so a configuration copied from Postfix reads clearly.

>>> "smtp_tls_loglevel" in POSTFIX_ONLY, "relayhost" in POSTFIX_ONLY
(True, False)
"""

from __future__ import annotations

__all__ = ["POSTFIX_ONLY"]

POSTFIX_ONLY: frozenset[str] = frozenset("""
    address_verify_cache_cleanup_interval address_verify_default_transport
    address_verify_local_transport address_verify_map address_verify_negative_cache
    address_verify_negative_expire_time address_verify_negative_refresh_time
    address_verify_pending_request_limit address_verify_poll_count address_verify_poll_delay
    address_verify_positive_expire_time address_verify_positive_refresh_time
    address_verify_relay_transport address_verify_relayhost address_verify_sender
    address_verify_sender_dependent_default_transport_maps
    address_verify_sender_dependent_relayhost_maps address_verify_sender_ttl
    address_verify_service_name address_verify_transport_maps
    address_verify_virtual_transport anvil_status_update_time
    berkeley_db_create_buffer_size berkeley_db_read_buffer_size best_mx_transport
    broken_sasl_auth_clients command_directory connection_cache_protocol_timeout
    connection_cache_service_name connection_cache_status_update_time
    connection_cache_ttl_limit cyrus_sasl_config_path daemon_directory debugger_command
    defer_service_name defer_transports destination_concurrency_feedback_debug
    dns_ncache_ttl_fix_enable dnsblog_reply_delay dnsblog_service_name dnssec_probe
    error_service_name execution_directory_expansion_filter
    fast_flush_purge_time fast_flush_refresh_time fault_injection_code flush_service_name
    forward_expansion_filter html_directory ignore_mx_lookup_error known_tcp_ports
    lmdb_map_size lmtp_sasl_auth_cache_name lmtp_sasl_auth_cache_time
    lmtp_sasl_auth_soft_bounce lmtp_sasl_mechanism_filter
    lmtp_sasl_path
    lmtp_sasl_tls_verified_security_options lmtp_sasl_type
    lmtp_tls_block_early_mail_reply lmtp_tls_chain_files
    lmtp_tls_connection_reuse lmtp_tls_dcert_file lmtp_tls_dkey_file lmtp_tls_eccert_file
    lmtp_tls_eckey_file lmtp_tls_enforce_peername
    lmtp_tls_force_insecure_host_tlsa_lookup lmtp_tls_loglevel
    lmtp_tls_note_starttls_offer lmtp_tls_per_site
    lmtp_tls_scert_verifydepth lmtp_tls_session_cache_database
    lmtp_tls_session_cache_timeout lmtp_tls_trust_anchor_file
    lmtp_tls_wrappermode mail_release_date mail_version mailq_path manpage_directory
    master_service_disable meta_directory milter_macro_v multi_instance_directories
    multi_instance_enable multi_instance_group multi_instance_wrapper newaliases_path
    openssl_path pickup_service_name pipe_delivery_status_filter postmulti_control_commands
    postmulti_start_commands postmulti_stop_commands postscreen_access_list
    postscreen_allowlist_interfaces postscreen_bare_newline_action
    postscreen_bare_newline_enable postscreen_bare_newline_ttl
    postscreen_cache_cleanup_interval postscreen_cache_map postscreen_cache_retention_time
    postscreen_client_connection_count_limit postscreen_command_count_limit
    postscreen_command_filter postscreen_command_time_limit postscreen_denylist_action
    postscreen_disable_vrfy_command postscreen_discard_ehlo_keyword_address_maps
    postscreen_discard_ehlo_keywords postscreen_dnsbl_action
    postscreen_dnsbl_allowlist_threshold postscreen_dnsbl_max_ttl postscreen_dnsbl_min_ttl
    postscreen_dnsbl_reply_map postscreen_dnsbl_sites postscreen_dnsbl_threshold
    postscreen_dnsbl_timeout postscreen_enforce_tls postscreen_expansion_filter
    postscreen_forbidden_commands postscreen_greet_action postscreen_greet_banner
    postscreen_greet_ttl postscreen_greet_wait postscreen_helo_required
    postscreen_non_smtp_command_action postscreen_non_smtp_command_enable
    postscreen_non_smtp_command_ttl postscreen_pipelining_action
    postscreen_pipelining_enable postscreen_pipelining_ttl postscreen_post_queue_limit
    postscreen_pre_queue_limit postscreen_reject_footer postscreen_reject_footer_maps
    postscreen_tls_security_level postscreen_upstream_proxy_protocol
    postscreen_upstream_proxy_timeout postscreen_use_tls postscreen_watchdog_timeout
    process_id process_name proxy_read_maps proxy_write_maps proxymap_service_name
    proxywrite_service_name qmqpd_authorized_clients qmqpd_client_port_logging
    qmqpd_error_delay qmqpd_timeout readme_directory reset_owner_alias rewrite_service_name
    sample_directory send_cyrus_sasl_authzid sendmail_path service_name shlib_directory
    showq_service_name smtp_sasl_auth_cache_name smtp_sasl_auth_cache_time
    smtp_sasl_auth_soft_bounce smtp_sasl_mechanism_filter smtp_sasl_path
    smtp_sasl_tls_verified_security_options smtp_sasl_type
    smtp_tls_block_early_mail_reply
    smtp_tls_chain_files smtp_tls_connection_reuse
    smtp_tls_dane_insecure_mx_policy smtp_tls_dcert_file smtp_tls_dkey_file
    smtp_tls_eccert_file smtp_tls_eckey_file smtp_tls_enforce_peername
    smtp_tls_force_insecure_host_tlsa_lookup smtp_tls_loglevel
    smtp_tls_note_starttls_offer smtp_tls_per_site
    smtp_tls_scert_verifydepth smtp_tls_session_cache_database
    smtp_tls_session_cache_timeout smtp_tls_trust_anchor_file
    smtp_tls_wrappermode sun_mailtool_compatibility tcp_windowsize tls_append_default_CA
    tls_config_file tls_config_name tls_daemon_random_bytes tls_dane_digests
    tls_disable_workarounds tls_eecdh_auto_curves tls_eecdh_strong_curve
    tls_eecdh_ultra_curve tls_export_cipherlist tls_fast_shutdown_enable tls_high_cipherlist
    tls_legacy_public_key_fingerprints tls_low_cipherlist tls_medium_cipherlist
    tls_null_cipherlist tls_preempt_cipherlist tls_random_bytes tls_random_exchange_name
    tls_random_prng_update_period tls_random_reseed_period tls_random_source
    tls_server_sni_maps tls_session_ticket_cipher tls_ssl_options
    tls_wildcard_matches_multiple_labels tlsmgr_service_name tlsproxy_client_CAfile
    tlsproxy_client_CApath tlsproxy_client_cert_file tlsproxy_client_chain_files
    tlsproxy_client_dcert_file tlsproxy_client_dkey_file tlsproxy_client_eccert_file
    tlsproxy_client_eckey_file tlsproxy_client_enforce_tls
    tlsproxy_client_fingerprint_digest tlsproxy_client_key_file tlsproxy_client_loglevel
    tlsproxy_client_loglevel_parameter tlsproxy_client_per_site tlsproxy_client_policy_maps
    tlsproxy_client_scert_verifydepth tlsproxy_client_security_level tlsproxy_client_use_tls
    tlsproxy_enforce_tls tlsproxy_service_name tlsproxy_tls_CAfile tlsproxy_tls_CApath
    tlsproxy_tls_always_issue_session_ids tlsproxy_tls_ask_ccert
    tlsproxy_tls_ccert_verifydepth tlsproxy_tls_cert_file tlsproxy_tls_chain_files
    tlsproxy_tls_ciphers tlsproxy_tls_dcert_file tlsproxy_tls_dh1024_param_file
    tlsproxy_tls_dh512_param_file tlsproxy_tls_dkey_file tlsproxy_tls_eccert_file
    tlsproxy_tls_eckey_file tlsproxy_tls_eecdh_grade tlsproxy_tls_exclude_ciphers
    tlsproxy_tls_fingerprint_digest tlsproxy_tls_key_file tlsproxy_tls_loglevel
    tlsproxy_tls_mandatory_ciphers tlsproxy_tls_mandatory_exclude_ciphers
    tlsproxy_tls_mandatory_protocols tlsproxy_tls_protocols tlsproxy_tls_req_ccert
    tlsproxy_tls_security_level tlsproxy_use_tls tlsproxy_watchdog_timeout
    trace_service_name
""".split())
