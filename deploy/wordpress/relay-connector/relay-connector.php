<?php
/**
 * Plugin Name:       Relay Connector
 * Description:       Tells your relay server the moment a post is published, so it is posted to X at once (signed webhook, retried when relay is unreachable), and adds a "Relay again" action to the posts list.
 * Version:           0.1.0
 * Requires at least: 6.1
 * Requires PHP:      8.2
 * Author:            relay
 * License:           MIT
 * Text Domain:       relay-connector
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
	add_filter( 'post_row_actions', __NAMESPACE__ . '\add_relay_again_action', 10, 2 );
	add_filter( 'plugin_action_links_' . plugin_basename( __FILE__ ), __NAMESPACE__ . '\add_settings_link' );
}

register_deactivation_hook( __FILE__, __NAMESPACE__ . '\on_deactivate' );
