<?php
/**
 * Control from the editor: "Share on X", the author's message, a live preview of the
 * tweet with X's count, and, once published, what became of it.
 *
 * The block editor gets a panel (assets/editor-panel.js), the classic editor a meta box
 * (assets/meta-box.js) with the same fields. Both ask this site's REST routes, which
 * check the nonce and the user's right to edit the post, then ask relay, signed with
 * the secret key: the browser never sees relay's key.
 *
 * @package RelayConnector
 */

namespace RelayConnector;

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

const META_SHARE   = '_relay_connector_share';
const META_MESSAGE = '_relay_connector_message';
const MESSAGE_MAX  = 1000;
const REST_NS      = 'relay-connector/v1';
const PLACEHOLDERS = '{title} {summary} {hashtags} {link} {author} {site}';

function register_meta(): void {
	$can_edit = static function ( $allowed, $meta_key, $post_id ) {
		return current_user_can( 'edit_post', (int) $post_id );
	};
	register_post_meta(
		'post',
		META_SHARE,
		array(
			'type'          => 'boolean',
			'single'        => true,
			'default'       => settings()['share_default'],
			'show_in_rest'  => true,
			'auth_callback' => $can_edit,
		)
	);
	register_post_meta(
		'post',
		META_MESSAGE,
		array(
			'type'              => 'string',
			'single'            => true,
			'default'           => '',
			'show_in_rest'      => true,
			'auth_callback'     => $can_edit,
			'sanitize_callback' => __NAMESPACE__ . '\clean_message',
		)
	);
}

function clean_message( $value ): string {
	// The message is plain text (a tweet), shown with textContent and esc_textarea: tags and
	// "%20" stay as typed. Only broken UTF-8 and control characters other than line breaks go.
	$text = (string) preg_replace( '/[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]/u', '', wp_check_invalid_utf8( (string) $value ) );
	return mb_substr( str_replace( "\r\n", "\n", $text ), 0, MESSAGE_MAX );
}

/**
 * The author's choices for a post: share or not (the site's default until chosen), and the message.
 *
 * @return array{share: bool, message: string}
 */
function author_choices( \WP_Post $post ): array {
	$share = metadata_exists( 'post', $post->ID, META_SHARE )
		? (bool) get_post_meta( $post->ID, META_SHARE, true )
		: settings()['share_default'];
	return array(
		'share'   => $share,
		'message' => (string) get_post_meta( $post->ID, META_MESSAGE, true ),
	);
}

/**
 * The words the editor scripts show, translated here (no build step, no JSON translation files).
 */
function editor_strings(): array {
	return array(
		'panelTitle'   => __( 'Share on X', 'relay-connector' ),
		'share'        => __( 'Share this post on X', 'relay-connector' ),
		'notShared'    => __( 'This post will not be shared on X.', 'relay-connector' ),
		'message'      => __( 'Your message (optional)', 'relay-connector' ),
		/* translators: %s: the list of placeholders */
		'messageHelp'  => sprintf( __( 'Leave empty for the usual text. You can use %s: relay fills them in. The link is added at the end if you leave it out.', 'relay-connector' ), PLACEHOLDERS ),
		'preview'      => __( 'The tweet, as it will look', 'relay-connector' ),
		'refresh'      => __( 'Show the tweet', 'relay-connector' ),
		'loading'      => __( 'Asking relay…', 'relay-connector' ),
		/* translators: 1: characters counted as X counts, 2: the limit (280) */
		'count'        => __( '%1$d of %2$d characters, as X counts them', 'relay-connector' ),
		'tooLong'      => __( 'Too long for X: relay will shorten it as shown.', 'relay-connector' ),
		'status'       => __( 'On X', 'relay-connector' ),
		'viewOnX'      => __( 'See the tweet on X', 'relay-connector' ),
		/* translators: %s: a network's name (Mastodon, Bluesky) */
		'viewOn'       => __( 'See the post on %s', 'relay-connector' ),
		/* translators: %d: number of people */
		'clicks'       => __( 'Visits from X: %d', 'relay-connector' ),
		'statusNames'  => array(
			'unknown'    => __( 'Not sent to relay yet.', 'relay-connector' ),
			'queued'     => __( 'Waiting to be posted.', 'relay-connector' ),
			'review'     => __( 'Waiting for your approval on the relay dashboard.', 'relay-connector' ),
			'sending'    => __( 'Being posted…', 'relay-connector' ),
			'sent'       => __( 'Posted.', 'relay-connector' ),
			'failed'     => __( 'Not posted: X refused it.', 'relay-connector' ),
			'skipped'    => __( 'Not posted.', 'relay-connector' ),
			'not_shared' => __( 'Not shared, as you chose.', 'relay-connector' ),
		),
		'error'        => __( 'Relay could not be asked. Check Settings → Relay → Test the connection.', 'relay-connector' ),
	);
}

function enqueue_block_editor_assets(): void {
	$screen = function_exists( 'get_current_screen' ) ? get_current_screen() : null;
	if ( $screen && 'post' !== $screen->post_type ) {
		return;
	}
	wp_enqueue_script(
		'relay-connector-editor-panel',
		plugins_url( 'assets/editor-panel.js', __DIR__ ),
		array( 'wp-plugins', 'wp-edit-post', 'wp-element', 'wp-components', 'wp-data', 'wp-api-fetch', 'wp-compose' ),
		VERSION,
		true
	);
	wp_localize_script( 'relay-connector-editor-panel', 'relayConnector', script_data() );
}

function script_data(): array {
	return array(
		'strings'  => editor_strings(),
		'metaKeys' => array(
			'share'   => META_SHARE,
			'message' => META_MESSAGE,
		),
		'maxChars' => MESSAGE_MAX,
		'restPath' => '/' . REST_NS,
	);
}

// -- the classic editor's meta box ---------------------------------------------------------------

function add_meta_box(): void {
	\add_meta_box(
		'relay-connector',
		__( 'Share on X', 'relay-connector' ),
		__NAMESPACE__ . '\render_meta_box',
		'post',
		'side',
		'default',
		array( '__back_compat_meta_box' => true ) // the block editor has its own panel.
	);
}

function render_meta_box( \WP_Post $post ): void {
	$choices = author_choices( $post );
	$strings = editor_strings();
	wp_nonce_field( 'relay_connector_meta_' . $post->ID, 'relay_connector_meta_nonce' );
	printf(
		'<p><label><input type="checkbox" name="relay_connector_share" id="relay-connector-share" value="1" %1$s /> %2$s</label></p>',
		checked( $choices['share'], true, false ),
		esc_html( $strings['share'] )
	);
	printf(
		'<p><label for="relay-connector-message"><strong>%1$s</strong></label><textarea class="widefat" rows="4" maxlength="%2$d" name="relay_connector_message" id="relay-connector-message">%3$s</textarea><span class="description">%4$s</span></p>',
		esc_html( $strings['message'] ),
		(int) MESSAGE_MAX,
		esc_textarea( $choices['message'] ),
		esc_html( $strings['messageHelp'] )
	);
	printf(
		'<p><strong>%1$s</strong></p><div id="relay-connector-preview" aria-live="polite" style="white-space:pre-wrap;word-break:break-word;border:1px solid #c3c4c7;border-radius:4px;padding:8px;background:#f6f7f7"></div><p id="relay-connector-count" class="description"></p><p><button type="button" class="button" id="relay-connector-refresh">%2$s</button></p>',
		esc_html( $strings['preview'] ),
		esc_html( $strings['refresh'] )
	);
	if ( 'publish' === $post->post_status ) {
		printf( '<p><strong>%1$s</strong></p><div id="relay-connector-status"></div>', esc_html( $strings['status'] ) );
	}
	wp_enqueue_script( 'relay-connector-meta-box', plugins_url( 'assets/meta-box.js', __DIR__ ), array( 'wp-api-fetch' ), VERSION, true );
	wp_localize_script( 'relay-connector-meta-box', 'relayConnector', script_data() + array( 'postId' => $post->ID ) );
}

/**
 * Hooked on save_post_post: the meta box's fields (the block editor saves its panel through REST).
 */
function save_meta_box( int $post_id ): void {
	if ( ! isset( $_POST['relay_connector_meta_nonce'] ) || ( defined( 'DOING_AUTOSAVE' ) && DOING_AUTOSAVE ) ) {
		return;
	}
	if ( ! wp_verify_nonce( sanitize_text_field( wp_unslash( $_POST['relay_connector_meta_nonce'] ) ), 'relay_connector_meta_' . $post_id ) || ! current_user_can( 'edit_post', $post_id ) ) {
		return;
	}
	update_post_meta( $post_id, META_SHARE, ! empty( $_POST['relay_connector_share'] ) );
	update_post_meta( $post_id, META_MESSAGE, clean_message( wp_unslash( $_POST['relay_connector_message'] ?? '' ) ) );
}

// -- the REST routes the editor scripts call -------------------------------------------------------

function register_rest_routes(): void {
	$can_edit = static function ( \WP_REST_Request $request ) {
		return current_user_can( 'edit_post', (int) $request['id'] );
	};
	register_rest_route(
		REST_NS,
		'/preview/(?P<id>\d+)',
		array(
			'methods'             => 'POST',
			'callback'            => __NAMESPACE__ . '\rest_preview',
			'permission_callback' => $can_edit,
			'args'                => array(
				'message' => array(
					'type'      => 'string',
					'maxLength' => 4 * MESSAGE_MAX,
					'default'   => '',
				),
				'title'   => array(
					'type'      => 'string',
					'maxLength' => 2000,
				),
				'share'   => array(
					'type'    => 'boolean',
					'default' => true,
				),
			),
		)
	);
	register_rest_route(
		REST_NS,
		'/status/(?P<id>\d+)',
		array(
			'methods'             => 'GET',
			'callback'            => __NAMESPACE__ . '\rest_status',
			'permission_callback' => $can_edit,
		)
	);
}

/**
 * The tweet the post would make, as relay composes and counts it.
 */
function rest_preview( \WP_REST_Request $request ) {
	$post = get_post( (int) $request['id'] );
	if ( ! $post instanceof \WP_Post || ! is_configured() ) {
		return new \WP_Error( 'relay_connector_unavailable', editor_strings()['error'], array( 'status' => 503 ) );
	}
	if ( null !== $request['title'] ) {
		$post             = clone $post;
		$post->post_title = (string) $request['title'];
	}
	$payload          = build_payload( $post, 'publish' );
	$payload['relay'] = array(
		'share'   => (bool) $request['share'],
		'message' => clean_message( $request['message'] ),
	);
	return relay_answer( ask_relay( PREVIEW_PATH, $payload ) );
}

/**
 * What became of a published post: status, the tweet on X, the human clicks.
 */
function rest_status( \WP_REST_Request $request ) {
	$post = get_post( (int) $request['id'] );
	if ( ! $post instanceof \WP_Post || ! is_configured() ) {
		return new \WP_Error( 'relay_connector_unavailable', editor_strings()['error'], array( 'status' => 503 ) );
	}
	return relay_answer(
		ask_relay(
			STATUS_PATH,
			array(
				'post' => array(
					'id'   => $post->ID,
					'link' => get_permalink( $post ),
				),
			)
		)
	);
}

/**
 * Relay's answer for the browser: its JSON when relay said yes, else one plain error.
 */
function relay_answer( array $answer ) {
	if ( $answer['reached'] && 200 === $answer['status'] ) {
		return rest_ensure_response( $answer['data'] );
	}
	return new \WP_Error( 'relay_connector_unavailable', editor_strings()['error'], array( 'status' => 502 ) );
}
