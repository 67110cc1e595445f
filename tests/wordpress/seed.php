<?php
// Install WordPress in the test site and activate relay-connector, configured from the environment.
// Run with the site's directory as the working directory: php seed.php
define('WP_INSTALLING', true);
require __DIR__ . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';

$installed = wp_install('Relay Test Blog', 'admin', 'admin@example.com', true, '', getenv('WP_TEST_ADMIN_PASSWORD'));
update_option('permalink_structure', '/%year%/%monthnum%/%postname%/');
update_option('timezone_string', 'Europe/Paris');
// A French site. WordPress only offers languages whose core files are installed; the plugin
// ships its own fr_FR translation, which is what the tests read, so the choice is forced here.
add_filter('sanitize_option_WPLANG', fn($value, $option, $original) => $original, 10, 3);
update_option('WPLANG', getenv('WP_TEST_LOCALE') ?: 'fr_FR');
update_option('relay_connector_settings', [
    'relay_url' => getenv('WP_TEST_RELAY_URL'),
    'secret' => getenv('WP_TEST_RELAY_SECRET'),
    'api_token' => getenv('WP_TEST_RELAY_TOKEN'),
]);
$activated = activate_plugin('relay-connector/relay-connector.php');
if (is_wp_error($activated)) {
    fwrite(STDERR, 'activate_plugin: ' . $activated->get_error_message() . "\n");
    exit(1);
}
flush_rewrite_rules(false);
echo json_encode(['user_id' => $installed['user_id'], 'active' => get_option('active_plugins')]), "\n";
