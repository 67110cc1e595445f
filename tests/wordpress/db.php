<?php
// Create or drop the test database: php db.php create|drop|ping NAME HOST PORT USER PASSWORD
// Exit codes: 0 done, 3 the server is unreachable, 1 anything else.
[$script, $action, $name, $host, $port, $user, $password] = array_pad($argv, 7, '');
if (!extension_loaded('mysqli')) {
    fwrite(STDERR, "PHP has no mysqli extension (install php-mysql)\n");
    exit(1);
}
mysqli_report(MYSQLI_REPORT_OFF);
$db = @new mysqli($host, $user, $password, null, (int) $port);
if ($db->connect_errno) {
    fwrite(STDERR, "cannot connect to MariaDB/MySQL at $host:$port as $user: {$db->connect_error}\n");
    exit(3);
}
if (!preg_match('/^[a-z0-9_]+$/', $name)) {
    fwrite(STDERR, "bad database name\n");
    exit(1);
}
$sql = match ($action) {
    'create' => "CREATE DATABASE `$name` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    'drop' => "DROP DATABASE IF EXISTS `$name`",
    'ping' => 'SELECT 1',
};
if (!$db->query($sql)) {
    fwrite(STDERR, "$action failed: {$db->error}\n");
    exit(1);
}
