<?php
/**
 * Asking relay a question, signed like the webhook, and "Test the connection".
 *
 * The questions (a connection test, a tweet preview, a post's status) go from this
 * WordPress server to relay, signed with the secret key; the browser only ever talks
 * to WordPress, so the key never reaches it.
 *
 * @package RelayConnector
 */

namespace RelayConnector;

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

const PING_PATH        = '/hooks/wordpress/ping';
const PREVIEW_PATH     = '/hooks/wordpress/preview';
const STATUS_PATH      = '/hooks/wordpress/status';
const QUESTION_TIMEOUT = 5;
const CLOCK_TOLERANCE  = 300;

/**
 * POST a signed question to relay.
 *
 * @return array{reached: bool, status: int, data: array, error: string, code: string}
 */
function ask_relay( string $path, array $question ): array {
	$s    = settings();
	$key  = signing_key( $s['secret'] );
	$body = (string) wp_json_encode( $question );
	$id   = 'wpq_' . wp_generate_password( 16, false );
	$now  = time();
	$response = wp_remote_post(
		$s['relay_url'] . $path,
		array(
			'timeout'     => QUESTION_TIMEOUT,
			'redirection' => 0,
			'headers'     => array(
				'Content-Type'      => 'application/json',
				'Accept'            => 'application/json',
				'User-Agent'        => 'relay-connector/' . VERSION . '; ' . home_url( '/' ),
				'webhook-id'        => $id,
				'webhook-timestamp' => (string) $now,
				'webhook-signature' => sign( (string) $key, $id, $now, $body ),
			),
			'body'        => $body,
			'data_format' => 'body',
		)
	);
	if ( is_wp_error( $response ) ) {
		return array(
			'reached' => false,
			'status'  => 0,
			'data'    => array(),
			'error'   => $response->get_error_message(),
			'code'    => (string) $response->get_error_code(),
		);
	}
	$data = json_decode( (string) wp_remote_retrieve_body( $response ), true );
	return array(
		'reached' => true,
		'status'  => (int) wp_remote_retrieve_response_code( $response ),
		'data'    => is_array( $data ) ? $data : array(),
		'error'   => '',
		'code'    => '',
	);
}

/**
 * Send relay a signed ping and say, in words, what is wrong.
 *
 * @return array{ok: bool, kind: string, message: string}
 */
function test_connection(): array {
	$s = settings();
	if ( '' === $s['relay_url'] || '' === $s['secret'] ) {
		return verdict( false, 'not_configured', __( 'Enter relay’s address and the secret key, save, then test again.', 'relay-connector' ) );
	}
	$host   = (string) wp_parse_url( $s['relay_url'], PHP_URL_HOST );
	$answer = ask_relay( PING_PATH, array( 'ping' => true, 'site' => home_url( '/' ) ) );
	if ( ! $answer['reached'] ) {
		$error = strtolower( $answer['error'] );
		if ( str_contains( $error, 'resolve' ) ) {
			/* translators: %s: a host name */
			return verdict( false, 'address', sprintf( __( 'The address is wrong: no server is called “%s”. Check the spelling of relay’s address.', 'relay-connector' ), $host ) );
		}
		if ( str_contains( $error, 'refused' ) || str_contains( $error, 'connect' ) ) {
			/* translators: %s: relay's address */
			return verdict( false, 'down', sprintf( __( 'Relay is not answering at %s: it is stopped, or the address or its port is wrong.', 'relay-connector' ), $s['relay_url'] ) );
		}
		if ( str_contains( $error, 'timed out' ) || str_contains( $error, 'timeout' ) ) {
			/* translators: %s: relay's address */
			return verdict( false, 'down', sprintf( __( 'Relay did not answer in time at %s: it may be down, or a firewall blocks your site.', 'relay-connector' ), $s['relay_url'] ) );
		}
		/* translators: 1: relay's address, 2: the technical error */
		return verdict( false, 'address', sprintf( __( 'Relay could not be reached at %1$s (%2$s).', 'relay-connector' ), $s['relay_url'], $answer['error'] ) );
	}
	$data   = $answer['data'];
	$status = $answer['status'];
	if ( 200 === $status && ! empty( $data['ok'] ) ) {
		$message = __( 'All good: relay answered and recognised the secret key. Your next post will be shared on X.', 'relay-connector' );
		if ( ! empty( $data['dry_run'] ) ) {
			$message .= ' ' . __( 'Note: relay is in test mode (no X account connected yet), so nothing will actually appear on X.', 'relay-connector' );
		}
		return verdict( true, 'ok', $message );
	}
	if ( ! isset( $data['relay_time'] ) ) {
		if ( $status >= 500 ) {
			/* translators: %d: HTTP status */
			return verdict( false, 'down', sprintf( __( 'Relay is having trouble (error %d). Try again in a minute; if it lasts, whoever runs relay should look at its log.', 'relay-connector' ), $status ) );
		}
		/* translators: %s: relay's address */
		return verdict( false, 'address', sprintf( __( 'Something answers at %s, but it is not relay (or a very old relay). Check the address.', 'relay-connector' ), $s['relay_url'] ) );
	}
	$reason = (string) ( $data['reason'] ?? '' );
	if ( 401 === $status && 'clock' === $reason ) {
		$skew    = time() - (int) $data['relay_time'];
		$minutes = max( 1, (int) round( abs( $skew ) / 60 ) );
		$text    = $skew > 0
			/* translators: %d: minutes */
			? _n( 'The secret key is right, but this server’s clock is %d minute ahead of relay’s.', 'The secret key is right, but this server’s clock is %d minutes ahead of relay’s.', $minutes, 'relay-connector' )
			/* translators: %d: minutes */
			: _n( 'The secret key is right, but this server’s clock is %d minute behind relay’s.', 'The secret key is right, but this server’s clock is %d minutes behind relay’s.', $minutes, 'relay-connector' );
		return verdict( false, 'clock', sprintf( $text, $minutes ) . ' ' . __( 'Posts are refused when the clocks differ by more than 5 minutes: ask your host to set the time automatically (NTP).', 'relay-connector' ) );
	}
	if ( 401 === $status ) {
		return verdict( false, 'secret', __( 'Relay answered, but the secret key is not the same as relay’s. Copy the key again, in full, into this page or into relay.', 'relay-connector' ) );
	}
	if ( 503 === $status ) {
		return verdict( false, 'relay_secret', __( 'Relay answered, but no secret key is set on relay’s side yet. Whoever runs relay must enter the same key there.', 'relay-connector' ) );
	}
	/* translators: 1: HTTP status, 2: relay's explanation */
	return verdict( false, 'other', sprintf( __( 'Relay answered with an error (%1$d): %2$s', 'relay-connector' ), $status, (string) ( $data['detail'] ?? '' ) ) );
}

/**
 * @return array{ok: bool, kind: string, message: string}
 */
function verdict( bool $ok, string $kind, string $message ): array {
	return array(
		'ok'      => $ok,
		'kind'    => $kind,
		'message' => $message,
	);
}

/**
 * The admin-post handler of the "Test the connection" button.
 */
function handle_connection_test(): void {
	check_admin_referer( 'relay_connector_test' );
	if ( ! current_user_can( 'manage_options' ) ) {
		wp_die( esc_html__( 'Sorry, you are not allowed to do that.', 'relay-connector' ), 403 );
	}
	set_transient( 'relay_connector_test_' . get_current_user_id(), test_connection(), 60 );
	wp_safe_redirect( admin_url( 'options-general.php?page=' . PAGE_SLUG ) );
	exit;
}

/**
 * The result of the last connection test, once, on the settings page.
 */
function show_connection_result(): void {
	$key    = 'relay_connector_test_' . get_current_user_id();
	$result = get_transient( $key );
	if ( ! is_array( $result ) ) {
		return;
	}
	delete_transient( $key );
	printf(
		'<div class="notice %1$s" id="relay-connector-test-result"><p><strong>%2$s</strong> %3$s</p></div>',
		$result['ok'] ? 'notice-success' : 'notice-error',
		esc_html( $result['ok'] ? __( 'Connection tested:', 'relay-connector' ) : __( 'Connection problem:', 'relay-connector' ) ),
		esc_html( $result['message'] )
	);
}
