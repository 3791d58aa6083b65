"""mailflow check reports what would stop an smtpd service at start."""

from __future__ import annotations


def test_check_names_bad_smtpd_settings(config_dir, run_cli):
    (config_dir / "main.cf").write_text(
        (config_dir / "main.cf").read_text()
        + "smtpd_tls_security_level = may\nsmtpd_tls_cert_file = /nonexistent/cert.pem\n"
          "smtpd_tls_key_file = /nonexistent/key.pem\n")
    (config_dir / "master.cf").write_text(
        "127.0.0.1:2599 inet n - n - - smtpd\n"
        "127.0.0.1:2598 inet n - n - - smtpd\n  -o smtpd_relay_restrictions=permit\n"
        "300.1.2.3:25 inet n - n - - smtpd\n")
    result = run_cli("-c", config_dir, "check")
    assert result.status == 78
    assert "smtpd_tls_cert_file = /nonexistent/cert.pem: No such file or directory" in result.err
    assert "specify at least one working instance of: reject_unauth_destination" in result.err
    assert "master.cf, line 4: bad hostname or network address: 300.1.2.3" in result.err


def test_check_passes_a_good_smtpd(config_dir, run_cli):
    (config_dir / "master.cf").write_text("127.0.0.1:2599 inet n - n - - smtpd\n")
    assert run_cli("-c", config_dir, "check").status == 0
