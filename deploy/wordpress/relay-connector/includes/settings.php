<?php
/**
 * Settings → Relay: the relay address, the webhook secret and the API token.
 *
 * Secrets are never printed back into the page: a saved secret shows as a masked
 * placeholder, and leaving the field empty keeps it.
 *
 * @package RelayConnector
 */

namespace RelayConnector;

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

const OPTION    = 'relay_connector_settings';
const PAGE_SLUG = 'relay-connector';

/**
 * The saved settings, with defaults.
 *
 * @return array{relay_url: string, secret: string, api_token: string}
 */
function settings(): array {
	$saved = get_option( OPTION, array() );
	$saved = is_array( $saved ) ? $saved : array();
	return array(
		'relay_url' => (string) ( $saved['relay_url'] ?? '' ),
		'secret'    => (string) ( $saved['secret'] ?? '' ),
		'api_token' => (string) ( $saved['api_token'] ?? '' ),
	);
}

/**
 * True when webhooks can be sent (an address and a secret are set).
 */
function is_configured(): bool {
	$s = settings();
	return '' !== $s['relay_url'] && '' !== $s['secret'];
}

/**
 * The HMAC key of a secret: the bytes after "whsec_" (base64), else the string itself.
 *
 * @return string|null Null when a whsec_ secret is not valid base64.
 */
function signing_key( string $secret ): ?string {
	if ( ! str_starts_with( $secret, 'whsec_' ) ) {
		return $secret;
	}
	$key = base64_decode( substr( $secret, 6 ), true );
	return ( false === $key || '' === $key ) ? null : $key;
}

function add_settings_page(): void {
	add_options_page(
		__( 'Relay', 'relay-connector' ),
		__( 'Relay', 'relay-connector' ),
		'manage_options',
		PAGE_SLUG,
		__NAMESPACE__ . '\render_settings_page'
	);
}

function add_settings_link( array $links ): array {
	$url = admin_url( 'options-general.php?page=' . PAGE_SLUG );
	array_unshift( $links, '<a href="' . esc_url( $url ) . '">' . esc_html__( 'Settings', 'relay-connector' ) . '</a>' );
	return $links;
}

function register_settings(): void {
	register_setting(
		PAGE_SLUG,
		OPTION,
		array(
			'type'              => 'array',
			'sanitize_callback' => __NAMESPACE__ . '\sanitize_settings',
			'show_in_rest'      => false,
		)
	);
	add_settings_section( 'relay_connector_main', '', '__return_null', PAGE_SLUG );
	add_settings_field( 'relay_url', __( 'Relay address', 'relay-connector' ), __NAMESPACE__ . '\render_url_field', PAGE_SLUG, 'relay_connector_main', array( 'label_for' => 'relay_connector_relay_url' ) );
	add_settings_field( 'secret', __( 'Webhook secret', 'relay-connector' ), __NAMESPACE__ . '\render_secret_field', PAGE_SLUG, 'relay_connector_main', array( 'label_for' => 'relay_connector_secret' ) );
	add_settings_field( 'api_token', __( 'API token', 'relay-connector' ), __NAMESPACE__ . '\render_token_field', PAGE_SLUG, 'relay_connector_main', array( 'label_for' => 'relay_connector_api_token' ) );
}

/**
 * Validate what the form sent; an empty secret field keeps the saved secret.
 *
 * @param mixed $input The submitted values.
 */
function sanitize_settings( $input ): array {
	$current = settings();
	$input   = is_array( $input ) ? $input : array();

	$url = trim( (string) ( $input['relay_url'] ?? '' ) );
	if ( '' !== $url ) {
		$url = untrailingslashit( esc_url_raw( $url, array( 'http', 'https' ) ) );
		if ( '' === $url ) {
			add_settings_error( OPTION, 'relay_url', __( 'The relay address must start with http:// or https://, for example https://relay.example.com', 'relay-connector' ) );
			$url = $current['relay_url'];
		}
	}

	$secret = trim( (string) ( $input['secret'] ?? '' ) );
	if ( '' === $secret ) {
		$secret = $current['secret'];
	} elseif ( null === signing_key( $secret ) ) {
		add_settings_error( OPTION, 'secret', __( 'The secret starts with whsec_ but the rest is not base64. Paste the whole value from relay, or use any long random string without the whsec_ prefix.', 'relay-connector' ) );
		$secret = $current['secret'];
	}

	$token = trim( (string) ( $input['api_token'] ?? '' ) );
	if ( '' === $token ) {
		$token = $current['api_token'];
	}
	if ( ! empty( $input['forget_api_token'] ) ) {
		$token = '';
	}

	return array(
		'relay_url' => $url,
		'secret'    => $secret,
		'api_token' => $token,
	);
}

function render_url_field(): void {
	printf(
		'<input type="url" class="regular-text code" id="relay_connector_relay_url" name="%1$s[relay_url]" value="%2$s" placeholder="https://relay.example.com" />'
		. '<p class="description">%3$s</p>',
		esc_attr( OPTION ),
		esc_attr( settings()['relay_url'] ),
		esc_html__( 'Where relay runs. Posts are sent to this address followed by /hooks/wordpress.', 'relay-connector' )
	);
}

function render_secret_field(): void {
	$saved = '' !== settings()['secret'];
	printf(
		'<input type="password" class="regular-text code" id="relay_connector_secret" name="%1$s[secret]" value="" autocomplete="new-password" placeholder="%2$s" />',
		esc_attr( OPTION ),
		esc_attr( $saved ? __( '•••••••• saved; leave empty to keep it', 'relay-connector' ) : 'whsec_…' )
	);
	echo '<p class="description">';
	esc_html_e( 'The same value as [wordpress] secret in relay\'s configuration (or RELAY_WORDPRESS_SECRET).', 'relay-connector' );
	if ( ! $saved ) {
		echo ' ';
		esc_html_e( 'A new random secret you can use in both places:', 'relay-connector' );
		echo ' <code>' . esc_html( 'whsec_' . base64_encode( random_bytes( 32 ) ) ) . '</code>';
	}
	echo '</p>';
}

function render_token_field(): void {
	$saved = '' !== settings()['api_token'];
	printf(
		'<input type="password" class="regular-text code" id="relay_connector_api_token" name="%1$s[api_token]" value="" autocomplete="new-password" placeholder="%2$s" />',
		esc_attr( OPTION ),
		esc_attr( $saved ? __( '•••••••• saved; leave empty to keep it', 'relay-connector' ) : '' )
	);
	echo '<p class="description">';
	esc_html_e( 'Optional: relay\'s [api] token, for the "Relay again" action in the posts list.', 'relay-connector' );
	echo '</p>';
	if ( $saved ) {
		printf(
			'<label><input type="checkbox" name="%1$s[forget_api_token]" value="1" /> %2$s</label>',
			esc_attr( OPTION ),
			esc_html__( 'Forget the saved token', 'relay-connector' )
		);
	}
}

function render_settings_page(): void {
	if ( ! current_user_can( 'manage_options' ) ) {
		return;
	}
	echo '<div class="wrap"><h1>' . esc_html__( 'Relay', 'relay-connector' ) . '</h1>';
	echo '<p>' . esc_html__( 'Each time a post is published, WordPress tells relay at once, with a signed request; relay posts it to X. Edits, drafts, private and password-protected posts are not posted.', 'relay-connector' ) . '</p>';
	echo '<form action="options.php" method="post">';
	settings_fields( PAGE_SLUG );
	do_settings_sections( PAGE_SLUG );
	submit_button();
	echo '</form></div>';
}

function on_deactivate(): void {
	wp_unschedule_hook( RETRY_HOOK );
}
