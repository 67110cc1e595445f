<?php
/**
 * Sending a delivery, retrying it with WP-Cron, and telling the admin when it gave up.
 *
 * A delivery that fails because relay is unreachable or busy is retried after 1, 5 and
 * 30 minutes, re-signed with a fresh timestamp but the same webhook-id, so relay does
 * the work once however many attempts reach it. A delivery relay refuses (wrong secret,
 * wrong address, clock off by more than 5 minutes) is not retried: an admin notice says
 * what relay answered.
 *
 * @package RelayConnector
 */

namespace RelayConnector;

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

const RETRY_HOOK       = 'relay_connector_retry';
const RETRY_DELAYS     = array( 60, 300, 1800 );
const PENDING_PREFIX   = 'relay_connector_pending_';
const FAILURES_OPTION  = 'relay_connector_failures';
const FAILURES_KEPT    = 20;

/**
 * Send an event for a post now; on a passing failure, schedule the retries.
 *
 * @return array{ok: bool, retry: bool, status: int, message: string}
 */
function deliver( \WP_Post $post, string $event ): array {
	$delivery = array(
		'id'       => webhook_id( $post, $event ),
		'post_id'  => $post->ID,
		'title'    => $post->post_title,
		'event'    => $event,
		'body'     => (string) wp_json_encode( build_payload( $post, $event ) ),
		'attempts' => 0,
	);
	return attempt( $delivery );
}

/**
 * Hooked on the retry cron event.
 */
function retry_delivery( string $id ): void {
	$delivery = get_option( pending_key( $id ) );
	if ( ! is_array( $delivery ) ) {
		return;
	}
	if ( is_superseded( $delivery ) ) {
		delete_option( pending_key( $id ) );
		return;
	}
	attempt( $delivery );
}

/**
 * One attempt, and what follows from its result.
 *
 * @return array{ok: bool, retry: bool, status: int, message: string}
 */
function attempt( array $delivery ): array {
	$result = send_webhook( $delivery['id'], $delivery['body'] );
	++$delivery['attempts'];
	if ( $result['ok'] ) {
		delete_option( pending_key( $delivery['id'] ) );
		return $result;
	}
	if ( $result['retry'] && $delivery['attempts'] <= count( RETRY_DELAYS ) ) {
		$delay                  = RETRY_DELAYS[ $delivery['attempts'] - 1 ];
		$delivery['last_error'] = $result['message'];
		update_option( pending_key( $delivery['id'] ), $delivery, false );
		wp_schedule_single_event( time() + $delay, RETRY_HOOK, array( $delivery['id'] ) );
		log_line( sprintf( '%s for post %d failed (%s); retrying in %d s', $delivery['event'], $delivery['post_id'], $result['message'], $delay ) );
		return $result;
	}
	delete_option( pending_key( $delivery['id'] ) );
	record_failure( $delivery, $result['message'] );
	log_line( sprintf( '%s for post %d failed (%s); gave up', $delivery['event'], $delivery['post_id'], $result['message'] ) );
	return $result;
}

/**
 * A retry no longer matches the post: a publish for a post since unpublished, or the reverse.
 */
function is_superseded( array $delivery ): bool {
	$post          = get_post( (int) $delivery['post_id'] );
	$public_now    = $post instanceof \WP_Post && 'publish' === $post->post_status && '' === $post->post_password;
	$says_public   = in_array( $delivery['event'], array( 'publish', 'update' ), true );
	return $says_public !== $public_now;
}

function pending_key( string $id ): string {
	return PENDING_PREFIX . md5( $id );
}

function record_failure( array $delivery, string $message ): void {
	$failures   = get_option( FAILURES_OPTION, array() );
	$failures   = is_array( $failures ) ? $failures : array();
	$failures[] = array(
		'time'    => time(),
		'post_id' => (int) $delivery['post_id'],
		'title'   => (string) $delivery['title'],
		'event'   => (string) $delivery['event'],
		'message' => $message,
	);
	update_option( FAILURES_OPTION, array_slice( $failures, -FAILURES_KEPT ) );
}

function log_line( string $message ): void {
	if ( defined( 'WP_DEBUG_LOG' ) && WP_DEBUG_LOG ) {
		error_log( 'relay-connector: ' . $message ); // phpcs:ignore WordPress.PHP.DevelopmentFunctions
	}
}

/**
 * The admin notice listing deliveries relay never received.
 */
function show_delivery_failures(): void {
	$failures = get_option( FAILURES_OPTION, array() );
	if ( empty( $failures ) || ! is_array( $failures ) || ! current_user_can( 'manage_options' ) ) {
		return;
	}
	echo '<div class="notice notice-error"><p><strong>' . esc_html__( 'Relay did not receive these posts:', 'relay-connector' ) . '</strong></p><ul>';
	foreach ( array_reverse( $failures ) as $failure ) {
		printf(
			'<li>%1$s — %2$s (%3$s): %4$s</li>',
			esc_html( wp_date( get_option( 'date_format' ) . ' ' . get_option( 'time_format' ), (int) $failure['time'] ) ),
			esc_html( '' !== $failure['title'] ? $failure['title'] : '#' . $failure['post_id'] ),
			esc_html( event_in_words( (string) $failure['event'] ) ),
			esc_html( $failure['message'] )
		);
	}
	$dismiss = wp_nonce_url( admin_url( 'admin-post.php?action=relay_connector_dismiss' ), 'relay_connector_dismiss' );
	printf(
		'</ul><p>%1$s <a href="%2$s">%3$s</a> · <a href="%4$s">%5$s</a></p></div>',
		esc_html__( 'Check relay’s address and the secret key (Settings → Relay → Test the connection), then use “Relay again” in the posts list.', 'relay-connector' ),
		esc_url( admin_url( 'options-general.php?page=' . PAGE_SLUG ) ),
		esc_html__( 'Settings', 'relay-connector' ),
		esc_url( $dismiss ),
		esc_html__( 'Dismiss', 'relay-connector' )
	);
}

function dismiss_delivery_failures(): void {
	check_admin_referer( 'relay_connector_dismiss' );
	if ( ! current_user_can( 'manage_options' ) ) {
		wp_die( esc_html__( 'Sorry, you are not allowed to do that.', 'relay-connector' ), 403 );
	}
	delete_option( FAILURES_OPTION );
	wp_safe_redirect( wp_get_referer() ? wp_get_referer() : admin_url() );
	exit;
}
