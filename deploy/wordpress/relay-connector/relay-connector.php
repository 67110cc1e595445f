<?php
/**
 * Plugin Name:       Relay Connector
 * Description:       Shares each new post on X through your relay service, the moment it is published. Choose and preview the message in the editor, test the connection in Settings → Relay, post again from the posts list.
 * Version:           0.1.0
 * Requires at least: 6.1
 * Requires PHP:      8.0
 * Author:            relay
 * License:           MIT
 * Text Domain:       relay-connector
 * Domain Path:       /languages
 *
 * @package RelayConnector
 */

namespace RelayConnector;

if ( ! defined( 'ABSPATH' ) ) {
	exit; // Loaded by WordPress only.
}

const VERSION = '0.1.0';

require_once __DIR__ . '/includes/settings.php';
require_once __DIR__ . '/includes/webhook.php';
require_once __DIR__ . '/includes/deliveries.php';
require_once __DIR__ . '/includes/republish.php';
require_once __DIR__ . '/includes/connection.php';
require_once __DIR__ . '/includes/editor.php';

/**
 * The plugin's words in the site's (or the user's) language: languages/relay-connector-<locale>.mo.
 */
function load_translations(): void {
	load_plugin_textdomain( 'relay-connector', false, dirname( plugin_basename( __FILE__ ) ) . '/languages' );
}

add_action( 'init', __NAMESPACE__ . '\load_translations', 1 );
add_action( 'init', __NAMESPACE__ . '\register_meta' );
add_action( 'rest_api_init', __NAMESPACE__ . '\register_rest_routes' );
add_action( 'save_post_post', __NAMESPACE__ . '\save_meta_box', 5 );

// wp_after_insert_post fires once the post, its terms and its featured image are saved
// (publish_post fires earlier in the block editor, and again on every edit).
add_action( 'wp_after_insert_post', __NAMESPACE__ . '\on_after_insert_post', 10, 4 );
add_action( 'before_delete_post', __NAMESPACE__ . '\on_before_delete_post', 10, 2 );
add_action( RETRY_HOOK, __NAMESPACE__ . '\retry_delivery', 10, 1 );

if ( is_admin() ) {
	add_action( 'admin_menu', __NAMESPACE__ . '\add_settings_page' );
	add_action( 'admin_init', __NAMESPACE__ . '\register_settings' );
	add_action( 'admin_notices', __NAMESPACE__ . '\show_delivery_failures' );
	add_action( 'admin_notices', __NAMESPACE__ . '\show_republish_result' );
	add_action( 'admin_post_relay_connector_dismiss', __NAMESPACE__ . '\dismiss_delivery_failures' );
	add_action( 'admin_post_relay_connector_republish', __NAMESPACE__ . '\handle_republish' );
	add_action( 'admin_post_relay_connector_test', __NAMESPACE__ . '\handle_connection_test' );
	add_action( 'add_meta_boxes_post', __NAMESPACE__ . '\add_meta_box' );
	add_action( 'enqueue_block_editor_assets', __NAMESPACE__ . '\enqueue_block_editor_assets' );
	add_filter( 'post_row_actions', __NAMESPACE__ . '\add_relay_again_action', 10, 2 );
	add_filter( 'plugin_action_links_' . plugin_basename( __FILE__ ), __NAMESPACE__ . '\add_settings_link' );
}

register_deactivation_hook( __FILE__, __NAMESPACE__ . '\on_deactivate' );
