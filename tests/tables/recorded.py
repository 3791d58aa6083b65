"""Answers of real Postfix 3.7.11 for the tables in sources.py.

Recorded by writing each source to FILE and running, for every key,
``postmap hash:FILE`` then ``postmap -q KEY TYPE:FILE`` (``postalias hash:FILE`` and
``postalias -q KEY hash:FILE`` for ALIASES); None means exit status 1 (not found).
"""

# postmap -q KEY hash:FILE
HASH_HASH = {
    'alice@example.com': 'alice value  with continuation',
    'ALICE@EXAMPLE.COM': 'alice value  with continuation',
    'bob': 'bob1',
    'carol': 'c  spaced   value',
    'novalue': None,
    '@example.com': 'catchall',
    '"quoted key"': 'q',
    'quoted key': None,
    'k4': 'a#b # c k5 leading',
    'nothing': None,
}

# postmap -q KEY texthash:FILE
TEXTHASH_HASH = {
    'alice@example.com': 'alice value  with continuation',
    'ALICE@EXAMPLE.COM': 'alice value  with continuation',
    'bob': 'bob1',
    'carol': 'c  spaced   value',
    'novalue': None,
    '@example.com': 'catchall',
    '"quoted key"': 'q',
    'quoted key': None,
    'k4': 'a#b # c k5 leading',
    'nothing': None,
}

# postmap -q KEY regexp:FILE
REGEXP_REGEXP = {
    'ABC@x': 'got A and B.',
    'Abc@x': 'toggled',
    'xfoo@bar.org': 'org-x foo-z',
    'xfoo@bar.net': None,
    'ac@z': 'got a and .',
    'abc@z': 'got a and b.',
    'yac@z': None,
    'multi@z': 'continuation line',
    'user+tag@d': None,
    'sp@': 'spaced',
    'SP@a': 'spaced',
    '123@q': 'posix digits',
    '12a@q': None,
    'a@dollar': '$1 is a$',
    'noresult@': '',
    'x': None,
}

# postmap -q KEY pcre:FILE
PCRE_REGEXP = {
    'ABC@x': 'got A and B.',
    'Abc@x': 'toggled',
    'xfoo@bar.org': 'org-x foo-z',
    'xfoo@bar.net': None,
    'ac@z': 'got a and .',
    'abc@z': 'got a and b.',
    'yac@z': None,
    'multi@z': 'continuation line',
    'user+tag@d': None,
    'sp@': 'spaced',
    'SP@a': 'spaced',
    '123@q': 'posix digits',
    '12a@q': None,
    'a@dollar': '$1 is a$',
    'noresult@': '',
    'x': None,
}

# postmap -q KEY cidr:FILE
CIDR_CIDR = {
    '192.168.1.1': 'exact',
    '192.168.2.3': 'net16',
    '10.1.2.3': 'ten',
    '8.8.8.8': 'not10',
    '2001:db8::5': 'v6net',
    '::1': 'v6lo',
    '172.16.1.9': 'not10',
    '172.17.0.1': 'not10',
    'foo': None,
    '2001:DB8::1': 'v6net',
    '::ffff:192.168.1.1': None,
    '[192.168.1.1]': None,
}

# postalias -q KEY hash:FILE
HASH_ALIASES = {
    'root': 'alice, bob, carol',
    'ROOT': 'alice, bob, carol',
    'postmaster': 'root',
    'quoted name': 'dave',
    'fwd': ':include:/etc/mail/list, |"/usr/bin/prog arg", /var/mail/file',
    'dup': 'one',
    'empty': None,
    'spaced': 'x',
    'first.last': '"odd local"@example.com',
    'user@example.com': None,
    '@': '@',
    'bad': None,
}

# postmap -s hash:FILE, sorted (Postfix lists in hash order)
HASH_DUMP = [
    '"quoted key"\tq',
    '@example.com\tcatchall',
    'alice@example.com\talice value  with continuation',
    'bob\tbob1',
    'carol\tc  spaced   value',
    'k4\ta#b # c k5 leading',
]

# postmap hash:FILE (stderr, FILE replaced by the name written here)
HASH_BUILD_WARNINGS = ['postmap: warning: hash.db: duplicate entry: "bob"', 'postmap: warning: hash, line 7: expected format: key whitespace value']

# postalias hash:FILE (stderr)
ALIASES_BUILD_WARNINGS = ['postalias: warning: aliases, line 7: need name:value pair', 'postalias: warning: aliases.db: duplicate entry: "dup"', 'postalias: warning: aliases, line 10: need name:value pair', 'postalias: warning: aliases, line 13: name must be local']

# postalias -s hash:FILE, sorted, without the YP_* entries (NIS only)
ALIASES_DUMP = [
    '@:\t@',
    'dup:\tone',
    'first.last:\t"odd local"@example.com',
    'fwd:\t:include:/etc/mail/list, |"/usr/bin/prog arg", /var/mail/file',
    'postmaster:\troot',
    'quoted name:\tdave',
    'root:\talice, bob, carol',
    'spaced:\tx',
]

