#!/bin/sh
# Run a whole mail pipeline as any user, with no external server:
# start the daemon, submit two messages with sendmail and a third over SMTP
# (the smtpd on 127.0.0.1 in master.cf), watch them reach their Maildirs,
# show how an address is routed, then stop.
set -eu
cd "$(dirname "$0")"
mf() { mailflow -c . "$@"; }

mf start
trap 'mf stop' EXIT

printf 'Subject: hello\n\nFirst message.\n' | mf sendmail -f alice@example.com b@example.com
printf 'Subject: to sales\n\nSecond message.\n' | mf sendmail -f b@example.com sales@example.com

# The front door: the port of master.cf's smtpd line, and Python's smtplib.
port=$(awk '$2 == "inet" && $NF == "smtpd" { n = split($1, a, ":"); print a[n] }' master.cf)
python3 -c '
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as smtp:
    smtp.sendmail("alice@example.com", ["b@example.com"],
                  b"Subject: over SMTP\r\n\r\nThird message.\r\n")
' "$port"

# Delivery takes milliseconds; wait up to five seconds for all three.
i=0
while [ "$(find spool/mailboxes -path '*/new/*' -type f 2>/dev/null | wc -l)" -lt 3 ] && [ $i -lt 50 ]; do
  sleep 0.1; i=$((i + 1))
done

echo "== queue (postqueue -p)"; mf postqueue -p
echo "== delivered"; find spool/mailboxes -path '*/new/*' -type f
echo "== route of sales@example.com (explain)"; mf explain sales@example.com
echo "== log"; tail -n 14 spool/maillog
