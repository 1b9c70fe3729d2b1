"""The server error numbers the runner acts on that `pymysql.constants.ER` does not name.

Every other number is taken by its name from `pymysql.constants.ER` (the server's
errors) or `CR` (the client library's, from 2000). Each name here is the servers'
own, without the `ER_` prefix, as PyMySQL writes them.
"""

# MariaDB: the session was killed (KILL CONNECTION, a server restarting).
CONNECTION_KILLED = 1927
# MySQL: the account or the server requires TLS (require_secure_transport).
SECURE_TRANSPORT_REQUIRED = 3159
# MySQL: an ALGORITHM= word it does not know (MariaDB's NOCOPY).
UNKNOWN_ALTER_ALGORITHM = 1800
# The server cannot run the ALTER at the ALGORITHM or LOCK asked for ("Try ...").
ALTER_OPERATION_NOT_SUPPORTED = 1845
ALTER_OPERATION_NOT_SUPPORTED_REASON = 1846
# MySQL 8.0.29+: a table's instant ADD/DROP COLUMNs used up ("Please use COPY/INPLACE").
INNODB_MAX_ROW_VERSION = 4092
