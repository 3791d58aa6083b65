"""TLS for the SMTP server and client: contexts from main.cf, Postfix's log texts.

Owns the translation of Postfix's TLS parameters into :class:`ssl.SSLContext`
objects (:func:`server_context` for smtpd, :func:`client_context` for the
smtp/lmtp agents), the peer-name check of the client's ``verify`` and
``secure`` levels (:func:`peer_name_matches`, :func:`client_match_names`),
and the texts Postfix writes about a TLS session: the log line
(:func:`describe_tls`), the Received: comment (:func:`smtpd_received_tls_info`)
and the client certificate fingerprint (:func:`ccert_fingerprint`). It never
opens a socket: the services hand the contexts to asyncio.

What Python's :mod:`ssl` cannot do, and what therefore differs from Postfix:

- TLSv1 and TLSv1.1 are never offered: Python (3.10+) deprecates them and
  OpenSSL 3 refuses them at its default security level, so a lower bound
  below TLSv1.2 (Postfix's default ``>=TLSv1``) means TLSv1.2.
- Cipher grades (``smtpd_tls_ciphers`` and friends) apply to TLSv1.2 and
  older; TLSv1.3's cipher suites are OpenSSL's defaults.
- With ``smtpd_tls_ask_ccert = yes`` a client certificate that does not
  verify against ``smtpd_tls_CAfile``/``smtpd_tls_CApath`` fails the
  handshake (Postfix accepts it and logs "Untrusted"): Python has no
  verification callback.
- The log line and Received: comment stop after ``(N/M bits)``: Python does
  not expose the key-exchange group or the signature algorithm.

>>> from mailflow.config import Config
>>> server_context(Config()) is None      # smtpd_tls_security_level is empty
True
>>> protocol_range(">=TLSv1.2")
(<TLSVersion.TLSv1_2: 771>, <TLSVersion.TLSv1_3: 772>)
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import ssl
from typing import Any, Iterable

from mailflow.config.params import PARAMS
from mailflow.errors import ConfigError

__all__ = ["server_context", "server_tls_level", "client_context", "client_match_names",
           "peer_name_matches", "protocol_range", "describe_tls", "smtpd_received_tls_info",
           "ccert_fingerprint", "peer_certificate_names", "CIPHER_GRADES"]

log = logging.getLogger("mailflow.tls")

# Postfix's protocol names, oldest first (tls_misc.c tls_protocol_table).
_PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_PYTHON_VERSION = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}

# The default values of Postfix's tls_<grade>_cipherlist parameters; the
# grade names are what smtpd_tls_ciphers and smtp_tls_ciphers take.
CIPHER_GRADES = {
    "high": "aNULL:-aNULL:HIGH:@STRENGTH",
    "medium": "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH",
    "low": "aNULL:-aNULL:HIGH:MEDIUM:LOW:+RC4:@STRENGTH",
    "export": "aNULL:-aNULL:HIGH:MEDIUM:LOW:EXPORT:+RC4:@STRENGTH",
    "null": "eNULL:!aNULL",
}

_SERVER_LEVELS = ("none", "may", "encrypt")
_CLIENT_LEVELS = ("none", "may", "encrypt", "fingerprint", "verify", "secure")
_SPLIT = re.compile(r"[\s,:]+")


# --- parameters -------------------------------------------------------

def protocol_range(value: str, *, name: str = "smtpd_tls_protocols"
                   ) -> tuple[ssl.TLSVersion, ssl.TLSVersion]:
    """The (minimum, maximum) TLS version a Postfix protocol list allows.

    Postfix takes ``>=TLSv1.2``, ``<=TLSv1.2``, ``!SSLv2, !SSLv3`` (exclude)
    and ``TLSv1.2 TLSv1.3`` (only these) in any mix. Python's ssl sets a
    range, not a set; with only TLSv1.2 and TLSv1.3 usable (versions below
    TLSv1.2 are never offered, see the module docstring) every set is one.

    >>> protocol_range("!SSLv2, !SSLv3, !TLSv1.3")
    (<TLSVersion.TLSv1_2: 771>, <TLSVersion.TLSv1_2: 771>)
    >>> protocol_range("<=TLSv1.1")
    Traceback (most recent call last):
    ...
    mailflow.errors.ConfigError: smtpd_tls_protocols = <=TLSv1.1: no TLS protocol version \
that Python's ssl supports (TLSv1.2, TLSv1.3) is left
    """
    allowed = set(_PROTOCOLS)
    included: set[str] = set()
    for token in filter(None, _SPLIT.split(value.strip())):
        op, proto = "", token
        for prefix in (">=", "<=", "!"):
            if token.startswith(prefix):
                op, proto = prefix, token[len(prefix):]
                break
        match = [p for p in _PROTOCOLS if p.lower() == proto.lower()]
        if not match:
            raise ConfigError(f'unknown TLS protocol "{proto}"; expected one of '
                              + ", ".join(_PROTOCOLS), name=name, value=value)
        index = _PROTOCOLS.index(match[0])
        if op == ">=":
            allowed -= set(_PROTOCOLS[:index])
        elif op == "<=":
            allowed -= set(_PROTOCOLS[index + 1:])
        elif op == "!":
            allowed.discard(match[0])
        else:
            included.add(match[0])
    if included:
        allowed &= included
    usable = [p for p in _PROTOCOLS if p in allowed and p in _PYTHON_VERSION]
    if not usable:
        raise ConfigError("no TLS protocol version that Python's ssl supports "
                          "(TLSv1.2, TLSv1.3) is left", name=name, value=value)
    return _PYTHON_VERSION[usable[0]], _PYTHON_VERSION[usable[-1]]


def _param(cfg: Any, name: str) -> tuple[str, str]:
    """(name, expanded value) of a client or server TLS parameter.

    The lmtp client reads its own ``lmtp_*`` parameters only, as Postfix's
    lmtp does (never their ``smtp_*`` twins); a name not in the parameter
    table reads as empty.
    """
    return name, (cfg.expand(name).strip() if name in PARAMS else "")


def _cipher_list(cfg: Any, grade_param: str, exclude_params: Iterable[str]) -> str:
    grade_param, grade = _param(cfg, grade_param)
    grade = grade.lower()
    if grade not in CIPHER_GRADES:
        raise ConfigError("unknown cipher grade; expected one of " + ", ".join(CIPHER_GRADES),
                          name=grade_param, value=grade)
    excluded = [c for p in exclude_params for c in _SPLIT.split(_param(cfg, p)[1]) if c]
    return ":".join([CIPHER_GRADES[grade]] + ["!" + c for c in excluded])


def _apply_protocols_and_ciphers(ctx: ssl.SSLContext, cfg: Any, prefix: str,
                                 mandatory: bool) -> None:
    proto_param, protocols = _param(cfg, f"{prefix}_tls_mandatory_protocols" if mandatory
                                    else f"{prefix}_tls_protocols")
    ctx.minimum_version, ctx.maximum_version = protocol_range(protocols, name=proto_param)
    grade_param = f"{prefix}_tls_mandatory_ciphers" if mandatory else f"{prefix}_tls_ciphers"
    excludes = [f"{prefix}_tls_exclude_ciphers"]
    if mandatory:
        excludes.append(f"{prefix}_tls_mandatory_exclude_ciphers")
    try:
        ctx.set_ciphers(_cipher_list(cfg, grade_param, excludes))
    except ssl.SSLError as exc:
        name, value = _param(cfg, grade_param)
        raise ConfigError(f"no usable cipher: {exc}", name=name, value=value) from None


def _load_chain(ctx: ssl.SSLContext, name: str, cert: str, key: str | None,
                key_name: str | None = None) -> None:
    for param, path in ((name, cert), (key_name or name, key)):
        if path is None:
            continue
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise ConfigError(exc.strerror or str(exc), name=param, value=path) from None
    try:
        ctx.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        what = f"{cert}" if not key or key == cert else f"{cert} with key {key}"
        raise ConfigError(f"cannot load certificate and key from {what}: {exc.reason or exc}",
                          name=name, value=cert) from None


def _load_ca(ctx: ssl.SSLContext, cfg: Any, file_param: str, path_param: str,
             ca_file: str | None = None, ca_path: str | None = None) -> bool:
    file_param, configured_file = _param(cfg, file_param)
    path_param, configured_path = _param(cfg, path_param)
    ca_file = ca_file if ca_file is not None else configured_file
    ca_path = ca_path if ca_path is not None else configured_path
    for param, path in ((file_param, ca_file), (path_param, ca_path)):
        if path and not os.access(path, os.R_OK):
            raise ConfigError("No such file or directory" if not os.path.exists(path)
                              else "Permission denied", name=param, value=path)
    if ca_file or ca_path:
        try:
            ctx.load_verify_locations(cafile=ca_file or None, capath=ca_path or None)
        except ssl.SSLError as exc:
            raise ConfigError(f"cannot load CA certificates: {exc.reason or exc}",
                              name=file_param if ca_file else path_param,
                              value=ca_file or ca_path) from None
    return bool(ca_file or ca_path)


# --- server side --------------------------------------------------------

def server_tls_level(cfg: Any) -> str:
    """smtpd's effective TLS level: ``none``, ``may`` or ``encrypt``.

    ``smtpd_tls_security_level`` wins when set; else the obsolete
    ``smtpd_use_tls``/``smtpd_enforce_tls``. Wrapper mode implies encrypt
    (smtpd.c). ``fingerprint``, ``verify``, ``secure`` are not server levels:
    Postfix warns and uses ``encrypt``; so do we.

    >>> from mailflow.config import Config
    >>> server_tls_level(Config(smtpd_use_tls="yes")), server_tls_level(Config())
    ('may', 'none')
    """
    level = cfg.expand("smtpd_tls_security_level").strip().lower()
    if level in ("fingerprint", "verify", "secure"):
        log.warning('smtpd_tls_security_level: unsupported TLS level "%s", using "encrypt"',
                    level)
        level = "encrypt"
    elif level and level not in _SERVER_LEVELS:
        raise ConfigError("unknown TLS security level; expected none, may or encrypt",
                          name="smtpd_tls_security_level", value=level)
    elif not level:
        level = ("encrypt" if cfg["smtpd_enforce_tls"]
                 else "may" if cfg["smtpd_use_tls"] else "none")
    if cfg["smtpd_tls_wrappermode"]:
        level = "encrypt"
    return level


def server_context(cfg: Any) -> ssl.SSLContext | None:
    """The SSLContext smtpd offers STARTTLS (or wrapper-mode TLS) with; None: no TLS.

    None when the level is ``none``, and also when no certificate is
    configured: Postfix then logs "No server certs available. TLS won't be
    enabled" (for ``encrypt`` too: STARTTLS is not offered and MAIL gets
    ``530 5.7.0 Must issue a STARTTLS command first``). The certificate is
    ``smtpd_tls_chain_files`` (key then chain in each file) when set, else
    ``smtpd_tls_cert_file``/``smtpd_tls_key_file`` and the ECDSA pair
    ``smtpd_tls_eccert_file``/``smtpd_tls_eckey_file``. A missing or bad
    file is a :class:`ConfigError` naming the parameter and the file.
    With ``encrypt`` the mandatory protocols and ciphers apply.

    >>> from mailflow.config import Config
    >>> server_context(Config(smtpd_tls_security_level="may"))  # no certificate
    """
    level = server_tls_level(cfg)
    if level == "none":
        return None
    chain_files = [f for f in re.split(r"[\s,]+", cfg.expand("smtpd_tls_chain_files")) if f]
    cert_file = cfg.expand("smtpd_tls_cert_file").strip()
    if cert_file.lower() == "none":
        cert_file = ""  # Postfix's "anonymous ciphers only", which TLSv1.3 cannot do
    eccert_file = cfg.expand("smtpd_tls_eccert_file").strip()
    if chain_files and (cert_file or eccert_file):
        log.warning("Both smtpd_tls_chain_files and one or more of the legacy "
                    "smtpd_tls_cert_file, smtpd_tls_eccert_file or smtpd_tls_dcert_file "
                    "are non-empty; the legacy parameters will be ignored")
    if not (chain_files or cert_file or eccert_file):
        log.warning("No server certs available. TLS won't be enabled")
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if chain_files:
        for path in chain_files:
            _load_chain(ctx, "smtpd_tls_chain_files", path, None)
    else:
        if cert_file:
            _load_chain(ctx, "smtpd_tls_cert_file", cert_file,
                        cfg.expand("smtpd_tls_key_file").strip() or cert_file,
                        "smtpd_tls_key_file")
        if eccert_file:
            _load_chain(ctx, "smtpd_tls_eccert_file", eccert_file,
                        cfg.expand("smtpd_tls_eckey_file").strip() or eccert_file,
                        "smtpd_tls_eckey_file")
    _apply_protocols_and_ciphers(ctx, cfg, "smtpd", level == "encrypt")
    have_ca = _load_ca(ctx, cfg, "smtpd_tls_CAfile", "smtpd_tls_CApath")
    require = level == "encrypt" and cfg["smtpd_tls_req_ccert"]
    if cfg["smtpd_tls_req_ccert"] and level != "encrypt":
        log.warning("Can't require client certs unless TLS is required")
    if cfg["smtpd_tls_ask_ccert"] or require:
        if not have_ca:
            # Python verifies a client certificate against the CA list in the
            # handshake itself; with no CA list every certificate would fail.
            raise ConfigError("asking for client certificates needs smtpd_tls_CAfile "
                              "or smtpd_tls_CApath",
                              name="smtpd_tls_req_ccert" if require else "smtpd_tls_ask_ccert",
                              value="yes")
        ctx.verify_mode = ssl.CERT_REQUIRED if require else ssl.CERT_OPTIONAL
        ctx.verify_flags |= ssl.VERIFY_X509_TRUSTED_FIRST
    return ctx


# --- client side ---------------------------------------------------------

def client_context(cfg: Any, level: str, *, ca_file: str | None = None,
                   ca_path: str | None = None, prefix: str = "smtp",
                   protocols: str | None = None, ciphers: str | None = None,
                   exclude: str | None = None) -> ssl.SSLContext | None:
    """The SSLContext for the smtp (``prefix="lmtp"``: lmtp) client at ``level``.

    ``none``: None (no TLS). ``may``/``encrypt``: any server certificate is
    accepted (logged "Untrusted"). ``fingerprint``: any certificate passes
    the handshake; the caller compares its digest with the configured
    fingerprints afterwards. ``verify``/``secure``: the chain must
    verify against ``ca_file``/``ca_path`` (else ``<prefix>_tls_CAfile``/
    ``<prefix>_tls_CApath``; the system's CAs when none is given); the peer *name* is
    checked by the caller after the handshake with :func:`peer_name_matches`
    against :func:`client_match_names`, because Postfix's match rules
    (``nexthop``, ``dot-nexthop``) are not Python's single hostname.
    ``<prefix>_tls_cert_file``/``<prefix>_tls_key_file`` give a client certificate.
    ``may`` uses the opportunistic protocols and ciphers, the other levels
    the mandatory ones. ``protocols``, ``ciphers`` (a grade) and ``exclude``
    are a TLS policy table's overrides (smtp_tls_policy_maps): they replace
    main.cf's protocols, grade and cipher exclusions. ``encrypt`` always
    excludes eNULL, the levels that check the certificate aNULL, as Postfix.

    >>> from mailflow.config import Config
    >>> client_context(Config(), "may").verify_mode
    <VerifyMode.CERT_NONE: 0>
    >>> client_context(Config(), "verify").verify_mode
    <VerifyMode.CERT_REQUIRED: 2>
    >>> client_context(Config(), "encrypt", protocols="TLSv1.3").minimum_version
    <TLSVersion.TLSv1_3: 772>
    """
    level = level.strip().lower()
    if level not in _CLIENT_LEVELS:
        raise ConfigError("unsupported TLS security level; expected one of "
                          + ", ".join(_CLIENT_LEVELS), name=f"{prefix}_tls_security_level",
                          value=level)
    if level == "none":
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # Postfix's own name rules: peer_name_matches()
    _apply_client_protocols_and_ciphers(ctx, cfg, prefix, level, protocols, ciphers, exclude)
    if level in ("verify", "secure"):
        ctx.verify_mode = ssl.CERT_REQUIRED
        if not _load_ca(ctx, cfg, f"{prefix}_tls_CAfile", f"{prefix}_tls_CApath",
                        ca_file, ca_path):
            ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    else:
        ctx.verify_mode = ssl.CERT_NONE
    cert_param, cert_file = _param(cfg, f"{prefix}_tls_cert_file")
    if cert_file:
        key_param, key_file = _param(cfg, f"{prefix}_tls_key_file")
        _load_chain(ctx, cert_param, cert_file, key_file or cert_file, key_param)
    return ctx


def _apply_client_protocols_and_ciphers(ctx: ssl.SSLContext, cfg: Any, prefix: str, level: str,
                                        protocols: str | None, ciphers: str | None,
                                        exclude: str | None) -> None:
    # smtp_tls_policy.c set_cipher_grade(): a policy's grade and exclusions
    # replace main.cf's; eNULL (encrypt) or aNULL (certificate levels) always go.
    mandatory = level != "may"
    proto_param, main_protocols = _param(cfg, f"{prefix}_tls_mandatory_protocols" if mandatory
                                         else f"{prefix}_tls_protocols")
    if protocols is not None:
        proto_param = f"{prefix}_tls_policy_maps protocols"
    ctx.minimum_version, ctx.maximum_version = protocol_range(
        main_protocols if protocols is None else protocols, name=proto_param)
    grade_param, grade = _param(cfg, f"{prefix}_tls_mandatory_ciphers" if mandatory
                                else f"{prefix}_tls_ciphers")
    if ciphers is not None:
        grade_param, grade = f"{prefix}_tls_policy_maps ciphers", ciphers
    grade = grade.lower()
    if grade not in CIPHER_GRADES:
        raise ConfigError("unknown cipher grade; expected one of " + ", ".join(CIPHER_GRADES),
                          name=grade_param, value=grade)
    if exclude is None:
        names = [f"{prefix}_tls_exclude_ciphers"]
        if mandatory:
            names.append(f"{prefix}_tls_mandatory_exclude_ciphers")
        excluded = [c for p in names for c in _SPLIT.split(_param(cfg, p)[1]) if c]
    else:
        excluded = [c for c in _SPLIT.split(exclude) if c]
    if level == "encrypt":
        excluded.append("eNULL")
    elif mandatory:
        excluded.append("aNULL")
    try:
        ctx.set_ciphers(":".join([CIPHER_GRADES[grade]] + ["!" + c for c in excluded]))
    except ssl.SSLError as exc:
        raise ConfigError(f"no usable cipher: {exc}", name=grade_param, value=grade) from None


def client_match_names(cfg: Any, level: str, *, hostname: str, nexthop: str,
                       prefix: str = "smtp", patterns: Iterable[str] | None = None) -> list[str]:
    """The names a server certificate must match at ``verify`` or ``secure``.

    From ``patterns`` (a TLS policy's ``match=`` list) when given, else
    ``smtp_tls_verify_cert_match`` (verify) or
    ``smtp_tls_secure_cert_match`` (secure): ``hostname`` is the server's
    (MX) host name, ``nexthop`` the next-hop domain, ``dot-nexthop`` any
    subdomain of it (written ``.domain``); other words are literal names
    (``.example.com`` matching subdomains). Names are lowercased.

    >>> from mailflow.config import Config
    >>> client_match_names(Config(), "secure", hostname="mx1.example.com",
    ...                    nexthop="example.com")
    ['example.com', '.example.com']
    >>> client_match_names(Config(), "verify", hostname="MX1.example.com", nexthop="x")
    ['mx1.example.com']
    """
    if patterns is None:
        _, value = _param(cfg, f"{prefix}_tls_secure_cert_match" if level == "secure"
                          else f"{prefix}_tls_verify_cert_match")
        patterns = _SPLIT.split(value)
    names: list[str] = []
    for word in filter(None, (p.strip() for p in patterns)):
        key = word.lower()
        name = {"hostname": hostname, "nexthop": nexthop,
                "dot-nexthop": "." + nexthop.strip("[]")}.get(key, word)
        name = name.strip("[]").rstrip(".").lower()
        if name and name not in names:
            names.append(name)
    return names


def peer_certificate_names(cert: dict) -> list[str]:
    """The DNS names of a peer certificate (``SSLObject.getpeercert()``):
    subjectAltName DNS entries when there are any, else the CommonName.

    >>> peer_certificate_names({"subject": ((("commonName", "mx.example"),),)})
    ['mx.example']
    """
    sans = [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]
    if sans:
        return sans
    return [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]


def peer_name_matches(cert: dict, names: Iterable[str]) -> str | None:
    """The certificate name that matches one of ``names``, else None.

    A name with a leading dot matches any subdomain (Postfix's
    ``dot-nexthop``); a certificate wildcard ``*.example.com`` matches one
    leftmost label (RFC 6125 6.4.3), never the bare domain.

    >>> cert = {"subjectAltName": (("DNS", "*.example.com"),)}
    >>> peer_name_matches(cert, ["mx1.example.com"]), peer_name_matches(cert, ["example.com"])
    ('*.example.com', None)
    """
    wanted = [n.lower().rstrip(".") for n in names]
    for presented in peer_certificate_names(cert):
        p = presented.lower().rstrip(".")
        for name in wanted:
            if name.startswith("."):
                # Subdomains of the name: the presented name, or the parent a
                # wildcard stands for, must lie strictly below it.
                base = p[2:] if p.startswith("*.") else p
                if base.endswith(name) or (p.startswith("*.") and "." + base == name):
                    return presented
            elif p == name:
                return presented
            elif p.startswith("*.") and "." in name and name.split(".", 1)[1] == p[2:]:
                return presented
    return None


# --- what Postfix writes about a session ---------------------------------

def _cipher_bits(ssl_object: Any) -> tuple[str, str, int, int]:
    name, protocol, usebits = ssl_object.cipher()
    algbits = usebits
    for info in ssl_object.context.get_ciphers():
        if info.get("name") == name:
            algbits = info.get("alg_bits", usebits)
            break
    return protocol or ssl_object.version(), name, usebits, algbits


def _has_peer_cert(ssl_object: Any) -> bool:
    return bool(ssl_object.getpeercert(binary_form=True))


def describe_tls(ssl_object: Any, peer: str, *, trusted: bool | None = None,
                 verified: bool = False) -> str:
    """Postfix's "TLS connection established" log text (tls_log_summary).

    ``peer`` is ``host[addr]``. The first word says what the peer's
    certificate is worth: "Anonymous" (none), "Untrusted" (not checked or
    not verified), "Trusted" (the chain verified), "Verified" (the chain
    and the name matched: the client's ``verify``/``secure`` levels, given
    as ``verified=True``). ``trusted=None`` infers trust from the context:
    a certificate that passed a handshake that verifies is trusted. The
    server side says "from", the client side "to"; a resumed session says
    "reused".

    Example (server side, no client certificate)::

        Anonymous TLS connection established from client.example[192.0.2.1]:
        TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
    """
    protocol, cipher, usebits, algbits = _cipher_bits(ssl_object)
    if not _has_peer_cert(ssl_object):
        grade = "Anonymous"
    else:
        if trusted is None:
            trusted = ssl_object.context.verify_mode != ssl.CERT_NONE
        grade = "Verified" if trusted and verified else "Trusted" if trusted else "Untrusted"
    usage = "reused" if getattr(ssl_object, "session_reused", False) else "established"
    direction = "from" if ssl_object.server_side else "to"
    return (f"{grade} TLS connection {usage} {direction} {peer}: {protocol} "
            f"with cipher {cipher} ({usebits}/{algbits} bits)")


def _comment_safe(text: str) -> str:
    # Postfix's comment_sanitize(): keep the comment well formed.
    out = "".join(c if c.isprintable() and c not in "()\\" else "?" for c in text)
    return out


def _subject_cn(cert: dict, field: str) -> str:
    return next((v for rdn in cert.get(field, ()) for k, v in rdn if k == "commonName"), "")


def smtpd_received_tls_info(ssl_object: Any, *, ask_ccert: bool = False) -> tuple[str, ...]:
    """The TLS comments of smtpd's Received: header (``smtpd_tls_received_header = yes``).

    Each string goes on its own folded line, after the ``from`` clause:
    ``(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))``,
    then ``(Client CN "name", Issuer "ca" (verified OK))`` when the client
    showed a certificate, ``(Client did not present a certificate)`` when
    one was asked for (``ask_ccert``), else ``(No client certificate
    requested)`` -- Postfix's smtpd.c wording.
    """
    protocol, cipher, usebits, algbits = _cipher_bits(ssl_object)
    lines = [f"(using {protocol} with cipher {cipher} ({usebits}/{algbits} bits))"]
    cert = ssl_object.getpeercert() if _has_peer_cert(ssl_object) else None
    if cert:
        # A certificate that Python decoded passed verification (CERT_OPTIONAL
        # or CERT_REQUIRED): an unverified one fails the handshake instead.
        lines.append(f'(Client CN "{_comment_safe(_subject_cn(cert, "subject"))}", '
                     f'Issuer "{_comment_safe(_subject_cn(cert, "issuer"))}" (verified OK))')
    elif ask_ccert:
        lines.append("(Client did not present a certificate)")
    else:
        lines.append("(No client certificate requested)")
    return tuple(lines)


def ccert_fingerprint(ssl_object: Any, digest: str = "sha256", *,
                      public_key: bool = False) -> str | None:
    """The peer certificate's fingerprint, Postfix style: ``AB:CD:...``; None: no certificate.

    This is the key of ``check_ccert_access``, ``permit_tls_clientcerts`` and
    ``relay_clientcerts`` tables, made with ``smtpd_tls_fingerprint_digest``
    (sha256 at compatibility level 3.6; md5 before). ``public_key=True``
    digests the certificate's DER SubjectPublicKeyInfo instead (Postfix's
    ``pkey_fingerprint``), which survives a certificate renewal with the
    same key.
    """
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    return fingerprint(der, digest, public_key=public_key)


def fingerprint(der: bytes, digest: str = "sha256", *, public_key: bool = False) -> str:
    """The colon-separated uppercase hex digest of a DER certificate (or its key).

    >>> fingerprint(b"x", "md5")
    '9D:D4:E4:61:26:8C:80:34:F5:C8:56:4E:15:5C:67:A6'
    """
    try:
        h = hashlib.new(digest.strip().lower())
    except ValueError:
        raise ConfigError("unsupported message digest algorithm",
                          name="smtpd_tls_fingerprint_digest", value=digest) from None
    h.update(_spki(der) if public_key else der)
    return ":".join(f"{b:02X}" for b in h.digest())


def _der_item(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the DER item at ``pos``."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    return tag, pos, pos + length


def _spki(der: bytes) -> bytes:
    # Certificate ::= SEQUENCE { tbsCertificate, ... }; in tbsCertificate the
    # fields are [0] version (optional), serial, signature, issuer, validity,
    # subject, subjectPublicKeyInfo (RFC 5280 4.1).
    _, start, _ = _der_item(der, 0)
    _, pos, _ = _der_item(der, start)
    fields = []
    while len(fields) < 7:
        tag, body, end = _der_item(der, pos)
        fields.append((tag, pos, end))
        pos = end
    if fields[0][0] != 0xA0:  # v1 certificate: no version field
        fields.insert(0, (0xA0, 0, 0))
    _, spki_start, spki_end = fields[6]
    return der[spki_start:spki_end]

