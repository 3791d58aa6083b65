"""An example mailflow plug-in package.

Three extension points, one module each: :mod:`.agent` (the ``webhook``
delivery agent), :mod:`.table` (the ``json:`` table type) and :mod:`.rule`
(the ``urgent_subject`` cleanup rule). pyproject.toml declares them as entry
points; mailflow finds them when the package is installed.
"""
