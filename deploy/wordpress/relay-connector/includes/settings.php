<?php
/**
 * Settings → Relay: relay's address, the secret key shared with relay, the key for
 * "Relay again", whether posts are shared on X by default, and "Test the connection".
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
 * @return array{relay_url: string, secret: string, api_token: string, share_default: bool}
 */
function settings(): array {
	$saved = get_option( OPTION, array() );
	$saved = is_array( $saved ) ? $saved : array();
	return array(
		'relay_url'     => (string) ( $saved['relay_url'] ?? '' ),
		'secret'        => (string) ( $saved['secret'] ?? '' ),
		'api_token'     => (string) ( $saved['api_token'] ?? '' ),
		'share_default' => (bool) ( $saved['share_default'] ?? true ),
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
		__( 'Relay to X', 'relay-connector' ),
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
	add_settings_field( 'secret', __( 'Secret key', 'relay-connector' ), __NAMESPACE__ . '\render_secret_field', PAGE_SLUG, 'relay_connector_main', array( 'label_for' => 'relay_connector_secret' ) );
	add_settings_field( 'share_default', __( 'New posts', 'relay-connector' ), __NAMESPACE__ . '\render_share_field', PAGE_SLUG, 'relay_connector_main', array( 'label_for' => 'relay_connector_share_default' ) );
	add_settings_field( 'api_token', __( 'Key for “Relay again”', 'relay-connector' ), __NAMESPACE__ . '\render_token_field', PAGE_SLUG, 'relay_connector_main', array( 'label_for' => 'relay_connector_api_token' ) );
}

/**
 * Validate what the form sent; an empty secret field keeps the saved secret.
 *
 * An address typed without http:// or https:// is refused rather than guessed: WordPress
 * would make it http://, and a relay reached over plain http sends the secret's
 * signatures in clear, or is not reached at all.
 *
 * @param mixed $input The submitted values.
 */
function sanitize_settings( $input ): array {
	$current = settings();
	$input   = is_array( $input ) ? $input : array();

	$url = trim( (string) ( $input['relay_url'] ?? '' ) );
	if ( '' !== $url ) {
		$typed = $url;
		$url   = preg_match( '#^https?://[^/\s]#i', $url ) ? untrailingslashit( esc_url_raw( $url, array( 'http', 'https' ) ) ) : '';
		if ( '' === $url ) {
			add_settings_error(
				OPTION,
				'relay_url',
				sprintf(
					/* translators: 1: the address as typed, 2: the same address with https:// in front */
					__( 'The address “%1$s” was not saved: type it in full, starting with https:// (for example %2$s).', 'relay-connector' ),
					$typed,
					'https://' . preg_replace( '#^(?:[a-z][a-z0-9+.-]*:)?/*#i', '', $typed )
				)
			);
			$url = $current['relay_url'];
		}
	}

	$secret = trim( (string) ( $input['secret'] ?? '' ) );
	if ( '' === $secret ) {
		$secret = $current['secret'];
	} elseif ( null === signing_key( $secret ) ) {
		add_settings_error( OPTION, 'secret', __( 'This secret key was not saved: it starts with whsec_ but the rest is damaged. Copy the whole key again.', 'relay-connector' ) );
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
		'relay_url'     => $url,
		'secret'        => $secret,
		'api_token'     => $token,
		'share_default' => array_key_exists( 'share_default', $input ) ? ! empty( $input['share_default'] ) : $current['share_default'],
	);
}

function render_url_field(): void {
	printf(
		'<input type="url" class="regular-text code" id="relay_connector_relay_url" name="%1$s[relay_url]" value="%2$s" placeholder="https://relay.example.com" />'
		. '<p class="description">%3$s</p>',
		esc_attr( OPTION ),
		esc_attr( settings()['relay_url'] ),
		esc_html__( 'The web address of your relay service, as given by whoever set it up. It starts with https://.', 'relay-connector' )
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
	esc_html_e( 'A password shared by your site and relay, so relay knows the posts really come from you. The same key must be entered in both places.', 'relay-connector' );
	if ( ! $saved ) {
		echo ' ';
		esc_html_e( 'Here is a new one you can use:', 'relay-connector' );
		echo ' <code>' . esc_html( 'whsec_' . base64_encode( random_bytes( 32 ) ) ) . '</code>';
	}
	echo '</p><p class="description"><small>';
	esc_html_e( 'For whoever runs relay: this is [wordpress] secret in relay\'s configuration, or RELAY_WORDPRESS_SECRET.', 'relay-connector' );
	echo '</small></p>';
}

function render_share_field(): void {
	printf(
		'<input type="hidden" name="%1$s[share_default]" value="0" /><label><input type="checkbox" id="relay_connector_share_default" name="%1$s[share_default]" value="1" %2$s /> %3$s</label><p class="description">%4$s</p>',
		esc_attr( OPTION ),
		checked( settings()['share_default'], true, false ),
		esc_html__( 'Share new posts on X', 'relay-connector' ),
		esc_html__( 'You can still decide for each post, and write its message, in the editor.', 'relay-connector' )
	);
}

function render_token_field(): void {
	$saved = '' !== settings()['api_token'];
	printf(
		'<input type="password" class="regular-text code" id="relay_connector_api_token" name="%1$s[api_token]" value="" autocomplete="new-password" placeholder="%2$s" />',
		esc_attr( OPTION ),
		esc_attr( $saved ? __( '•••••••• saved; leave empty to keep it', 'relay-connector' ) : '' )
	);
	echo '<p class="description">';
	esc_html_e( 'Optional. Lets you post an article to X once more from the list of posts (“Relay again”).', 'relay-connector' );
	echo '</p><p class="description"><small>';
	esc_html_e( 'For whoever runs relay: this is relay\'s [api] token.', 'relay-connector' );
	echo '</small></p>';
	if ( $saved ) {
		printf(
			'<label><input type="checkbox" name="%1$s[forget_api_token]" value="1" /> %2$s</label>',
			esc_attr( OPTION ),
			esc_html__( 'Forget the saved key', 'relay-connector' )
		);
	}
}

function render_settings_page(): void {
	if ( ! current_user_can( 'manage_options' ) ) {
		return;
	}
	echo '<div class="wrap"><h1>' . esc_html__( 'Relay to X', 'relay-connector' ) . '</h1>';
	echo '<p>' . esc_html__( 'Each time you publish a post, your site tells relay at once, and relay shares it on X. Drafts, private posts, posts with a password and edits are not shared.', 'relay-connector' ) . '</p>';
	show_connection_result();
	echo '<form action="options.php" method="post">';
	settings_fields( PAGE_SLUG );
	do_settings_sections( PAGE_SLUG );
	submit_button();
	echo '</form>';
	echo '<h2>' . esc_html__( 'Is everything working?', 'relay-connector' ) . '</h2>';
	echo '<p>' . esc_html__( 'Save first, then check that relay answers and recognises the secret key.', 'relay-connector' ) . '</p>';
	printf(
		'<form action="%1$s" method="post"><input type="hidden" name="action" value="relay_connector_test" />%2$s<button type="submit" class="button button-secondary" id="relay-connector-test">%3$s</button></form>',
		esc_url( admin_url( 'admin-post.php' ) ),
		wp_nonce_field( 'relay_connector_test', '_wpnonce', true, false ),
		esc_html__( 'Test the connection', 'relay-connector' )
	);
	echo '</div>';
}

function on_deactivate(): void {
	wp_unschedule_hook( RETRY_HOOK );
}
