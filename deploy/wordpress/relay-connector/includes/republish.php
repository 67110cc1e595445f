<?php
/**
 * "Relay again" in the posts list: ask relay to post a published post once more.
 *
 * It calls relay's API (POST /api/republish with the API token), so it needs the token
 * from relay's [api] section. The link carries a nonce; only users who may edit the
 * post see it and can use it.
 *
 * @package RelayConnector
 */

namespace RelayConnector;

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

const REPUBLISH_PATH    = '/api/republish';
const REPUBLISH_TIMEOUT = 10;

function republish_nonce_action( int $post_id ): string {
	return 'relay_connector_republish_' . $post_id;
}

/**
 * Hooked on post_row_actions.
 */
function add_relay_again_action( array $actions, \WP_Post $post ): array {
	$s = settings();
	if ( 'post' !== $post->post_type || 'publish' !== $post->post_status || '' !== $post->post_password ) {
		return $actions;
	}
	if ( '' === $s['api_token'] || '' === $s['relay_url'] || ! current_user_can( 'edit_post', $post->ID ) ) {
		return $actions;
	}
	$url = wp_nonce_url(
		admin_url( 'admin-post.php?action=relay_connector_republish&post=' . $post->ID ),
		republish_nonce_action( $post->ID )
	);
	$actions['relay_again'] = sprintf(
		'<a href="%1$s" aria-label="%2$s">%3$s</a>',
		esc_url( $url ),
		/* translators: %s: post title */
		esc_attr( sprintf( __( 'Post “%s” to X again through relay', 'relay-connector' ), get_the_title( $post ) ) ),
		esc_html__( 'Relay again', 'relay-connector' )
	);
	return $actions;
}

/**
 * The admin-post handler behind the link.
 */
function handle_republish(): void {
	$post_id = isset( $_GET['post'] ) ? absint( $_GET['post'] ) : 0; // phpcs:ignore WordPress.Security.NonceVerification -- checked next.
	check_admin_referer( republish_nonce_action( $post_id ) );
	if ( ! $post_id || ! current_user_can( 'edit_post', $post_id ) ) {
		wp_die( esc_html__( 'Sorry, you are not allowed to relay this post.', 'relay-connector' ), 403 );
	}
	set_transient( 'relay_connector_republish_' . get_current_user_id(), request_republish( $post_id ), 60 );
	wp_safe_redirect( wp_get_referer() ? wp_get_referer() : admin_url( 'edit.php' ) );
	exit;
}

/**
 * Ask relay to post the post again.
 *
 * @return array{ok: bool, message: string}
 */
function request_republish( int $post_id ): array {
	$s     = settings();
	$post  = get_post( $post_id );
	$title = $post instanceof \WP_Post ? $post->post_title : '#' . $post_id;
	if ( ! $post instanceof \WP_Post || 'publish' !== $post->post_status ) {
		return array(
			'ok'      => false,
			'message' => __( 'Only published posts can be relayed.', 'relay-connector' ),
		);
	}
	$response = wp_remote_post(
		$s['relay_url'] . REPUBLISH_PATH,
		array(
			'timeout'     => REPUBLISH_TIMEOUT,
			'redirection' => 0,
			'headers'     => array(
				'Authorization' => 'Bearer ' . $s['api_token'],
				'Content-Type'  => 'application/json',
				'Accept'        => 'application/json',
				'User-Agent'    => 'relay-connector/' . VERSION . '; ' . home_url( '/' ),
			),
			'body'        => (string) wp_json_encode( array( 'url' => get_permalink( $post ) ) ),
			'data_format' => 'body',
		)
	);
	if ( is_wp_error( $response ) ) {
		return array(
			'ok'      => false,
			/* translators: %s: the HTTP error */
			'message' => sprintf( __( 'relay could not be reached: %s', 'relay-connector' ), $response->get_error_message() ),
		);
	}
	$status = (int) wp_remote_retrieve_response_code( $response );
	if ( $status >= 200 && $status < 300 ) {
		return array(
			'ok'      => true,
			/* translators: %s: post title */
			'message' => sprintf( __( 'Relay will post “%s” again.', 'relay-connector' ), $title ),
		);
	}
	return array(
		'ok'      => false,
		/* translators: 1: post title, 2: HTTP status, 3: relay's explanation */
		'message' => sprintf( __( 'Relay refused to post “%1$s” again (%2$d): %3$s', 'relay-connector' ), $title, $status, answer_detail( $response ) ),
	);
}

/**
 * The notice after a "Relay again" click.
 */
function show_republish_result(): void {
	$key    = 'relay_connector_republish_' . get_current_user_id();
	$result = get_transient( $key );
	if ( ! is_array( $result ) ) {
		return;
	}
	delete_transient( $key );
	printf(
		'<div class="notice %1$s is-dismissible"><p>%2$s</p></div>',
		$result['ok'] ? 'notice-success' : 'notice-error',
		esc_html( $result['message'] )
	);
}
