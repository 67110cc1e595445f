<?php
/**
 * Removes the plugin's settings, pending retries and notices when it is deleted.
 *
 * @package RelayConnector
 */

if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
	exit;
}

global $wpdb;

delete_option( 'relay_connector_settings' );
delete_option( 'relay_connector_failures' );
wp_unschedule_hook( 'relay_connector_retry' );
$wpdb->query( $wpdb->prepare( "DELETE FROM {$wpdb->options} WHERE option_name LIKE %s", $wpdb->esc_like( 'relay_connector_pending_' ) . '%' ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
