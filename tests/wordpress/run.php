<?php
// Run a PHP snippet (read from stdin) inside the test site as the admin user.
// The snippet's return value is written as JSON to the file named by argv[1].
$_SERVER['HTTP_HOST'] = parse_url(getenv('WP_TEST_HOME'), PHP_URL_HOST) . ':' . parse_url(getenv('WP_TEST_HOME'), PHP_URL_PORT);
$_SERVER['REQUEST_URI'] = '/';
if (getenv('WP_TEST_ADMIN') === '1') {
    define('WP_ADMIN', true); // as in a wp-admin page: is_admin() is true, admin hooks are registered
}
require __DIR__ . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/admin.php';
wp_set_current_user(1);
$result = eval(stream_get_contents(STDIN));
file_put_contents($argv[1], json_encode($result, JSON_UNESCAPED_SLASHES | JSON_PARTIAL_OUTPUT_ON_ERROR));
