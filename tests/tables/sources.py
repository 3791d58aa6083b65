"""Table source files shared by the table tests and the live Postfix comparison."""

HASH = """\
# comment
Alice@Example.COM   alice value
  with continuation
bob bob1
bob bob2
 # indented comment
novalue
carol\tc  spaced   value   
@example.com catchall
"quoted key" q
k4 a#b # c
 k5 leading
"""

REGEXP = r"""
/^Abc@/i	toggled
if /\.org$/
/^x(.*)@/	org-x ${1}-z
endif
if !/^y/
/^(a)(b)?c@/	got $1 and $2.
endif
/multi@/
	continuation line
/^(\w+)\+(\w+)@/  ext=$2 user=$1 $3
/^sp@/x  spaced
/^[[:digit:]]+@q$/ posix digits
/^(.*)@dollar$/ $$1 is ${1}$$
/noresult@/
"""

CIDR = """\
192.168.1.1          exact
192.168.0.0/16       net16
!10.0.0.0/8          not10
10.1.2.0/24          ten
2001:db8::/32        v6net
::1                  v6lo
192.168.1.5/16       badnet
if 172.16.0.0/12
172.16.1.0/24  inside
endif
300.1.1.1/8 bad
"""

ALIASES = """\
# aliases
postmaster: root
Root: alice, bob,
   carol
"quoted name": dave
fwd: :include:/etc/mail/list, |"/usr/bin/prog arg", /var/mail/file
bad line
dup: one
dup: two
empty:
spaced : x
first.last: "odd local"@example.com
user@example.com: remote
"""

# (key, ...) queried against each table above.
HASH_KEYS = ["alice@example.com", "ALICE@EXAMPLE.COM", "bob", "carol", "novalue", "@example.com",
             '"quoted key"', "quoted key", "k4", "nothing"]
REGEXP_KEYS = ["ABC@x", "Abc@x", "xfoo@bar.org", "xfoo@bar.net", "ac@z", "abc@z", "yac@z",
               "multi@z", "user+tag@d", "sp@", "SP@a", "123@q", "12a@q", "a@dollar", "noresult@", "x"]
CIDR_KEYS = ["192.168.1.1", "192.168.2.3", "10.1.2.3", "8.8.8.8", "2001:db8::5", "::1",
             "172.16.1.9", "172.17.0.1", "foo", "2001:DB8::1", "::ffff:192.168.1.1",
             "[192.168.1.1]"]
ALIAS_KEYS = ["root", "ROOT", "postmaster", "quoted name", "fwd", "dup", "empty", "spaced",
              "first.last", "user@example.com", "@", "bad"]
