<?php
/**
 * What is sent, when, and how it is signed.
 *
 * The body is the WordPress REST post object plus names (author, categories, tags,
 * featured image), an "event", and "relay": the author's choices from the editor ("share"
 * and "message", see editor.php). It is signed the Standard Webhooks way
 * (standardwebhooks.com): HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>".
 *
 * @package RelayConnector
 */

namespace RelayConnector;

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

const WEBHOOK_PATH      = '/hooks/wordpress';
const SEND_TIMEOUT      = 5;
const MAX_CONTENT_CHARS = 60000;

/**
 * Hooked on wp_after_insert_post: send an event when a post's public life changes.
 */
function on_after_insert_post( int $post_id, \WP_Post $post, bool $update, ?\WP_Post $post_before ): void {
	if ( 'post' !== $post->post_type || wp_is_post_revision( $post ) || wp_is_post_autosave( $post ) ) {
		return;
	}
	if ( ( defined( 'DOING_AUTOSAVE' ) && DOING_AUTOSAVE ) || ! is_configured() ) {
		return;
	}
	$event = event_for( $post, $post_before );
	if ( null !== $event ) {
		deliver( $post, $event );
	}
}

/**
 * Hooked on before_delete_post: a published post deleted without going to the trash.
 */
function on_before_delete_post( int $post_id, ?\WP_Post $post = null ): void {
	$post = $post ?? get_post( $post_id );
	if ( $post instanceof \WP_Post && 'post' === $post->post_type && 'publish' === $post->post_status && is_configured() ) {
		deliver( $post, 'trash' );
	}
}

/**
 * The event a save means, or null when readers see no change.
 *
 * "publish": the post became public (published, or its password was removed);
 * "update": a public post was edited; "trash" / "unpublish": it stopped being public.
 * A first publish with a password is sent too: relay decides (and logs) that it is not posted.
 */
function event_for( \WP_Post $post, ?\WP_Post $before ): ?string {
	$was_published = $before instanceof \WP_Post && 'publish' === $before->post_status;
	$is_published  = 'publish' === $post->post_status;
	if ( $is_published && ! $was_published ) {
		return 'publish';
	}
	if ( $is_published ) {
		$was_public = '' === $before->post_password;
		$is_public  = '' === $post->post_password;
		if ( $is_public && ! $was_public ) {
			return 'publish';
		}
		if ( ! $is_public && $was_public ) {
			return 'unpublish';
		}
		return $is_public ? 'update' : null;
	}
	if ( $was_published ) {
		return 'trash' === $post->post_status ? 'trash' : 'unpublish';
	}
	return null;
}

/**
 * The delivery's id: the same for every retry of one delivery, different for each save.
 */
function webhook_id( \WP_Post $post, string $event ): string {
	$host     = strtolower( (string) wp_parse_url( home_url(), PHP_URL_HOST ) );
	$host     = preg_replace( '/[^a-z0-9.-]/', '-', '' !== $host ? $host : 'blog' );
	$modified = strtotime( $post->post_modified_gmt . ' UTC' );
	return sprintf( 'wp_%s_%d_%d_%s', $host, $post->ID, false === $modified ? 0 : $modified, $event );
}

/**
 * The JSON body: the REST post object's fields relay reads, plus names.
 */
function build_payload( \WP_Post $post, string $event ): array {
	$protected            = '' !== $post->post_password;
	[ $excerpt, $content ] = $protected ? array( '', '' ) : rendered_text( $post );
	$categories           = wp_get_post_terms( $post->ID, 'category', array( 'fields' => 'names' ) );
	$tags                 = wp_get_post_terms( $post->ID, 'post_tag', array( 'fields' => 'names' ) );
	return array(
		'event' => $event,
		'site'  => array(
			'url'  => home_url( '/' ),
			'name' => wp_specialchars_decode( get_bloginfo( 'name' ), ENT_QUOTES ),
		),
		'post'  => array(
			'id'                 => $post->ID,
			'type'               => $post->post_type,
			'link'               => get_permalink( $post ),
			'guid'               => array( 'rendered' => get_the_guid( $post ) ),
			'status'             => 'trash' === $event ? 'trash' : $post->post_status,
			'date_gmt'           => rest_date( $post->post_date_gmt ),
			'modified_gmt'       => rest_date( $post->post_modified_gmt ),
			'title'              => array( 'rendered' => apply_filters( 'the_title', $post->post_title, $post->ID ) ),
			'excerpt'            => array(
				'rendered'  => $excerpt,
				'protected' => $protected,
			),
			'content'            => array(
				'rendered'  => $content,
				'protected' => $protected,
			),
			'author_name'        => (string) get_the_author_meta( 'display_name', (int) $post->post_author ),
			'category_names'     => is_wp_error( $categories ) ? array() : array_values( $categories ),
			'tag_names'          => is_wp_error( $tags ) ? array() : array_values( $tags ),
			'featured_image'     => featured_image( $post ),
			'password_protected' => $protected,
		),
		'relay' => author_choices( $post ),
	);
}

/**
 * The excerpt (manual, else WordPress's own) and the content, rendered as the theme would.
 *
 * @return array{0: string, 1: string}
 */
function rendered_text( \WP_Post $post ): array {
	$previous        = $GLOBALS['post'] ?? null;
	$GLOBALS['post'] = $post; // phpcs:ignore WordPress.WP.GlobalVariablesOverride -- restored below.
	setup_postdata( $post );
	$excerpt = (string) apply_filters( 'the_excerpt', get_the_excerpt( $post ) );
	$content = str_replace( ']]>', ']]&gt;', (string) apply_filters( 'the_content', $post->post_content ) );
	$GLOBALS['post'] = $previous; // phpcs:ignore WordPress.WP.GlobalVariablesOverride
	if ( $previous instanceof \WP_Post ) {
		setup_postdata( $previous );
	}
	if ( strlen( $content ) > MAX_CONTENT_CHARS ) {
		$content = mb_substr( $content, 0, MAX_CONTENT_CHARS ); // relay only needs the start for a summary.
	}
	return array( $excerpt, $content );
}

/**
 * The featured image's full-size URL and alt text, or null.
 */
function featured_image( \WP_Post $post ): ?array {
	$image_id = (int) get_post_thumbnail_id( $post );
	$url      = $image_id ? wp_get_attachment_image_url( $image_id, 'full' ) : false;
	if ( ! $url ) {
		return null;
	}
	return array(
		'url' => $url,
		'alt' => (string) get_post_meta( $image_id, '_wp_attachment_image_alt', true ),
	);
}

/**
 * A GMT database date as the REST API writes it, or null for WordPress's zero date.
 */
function rest_date( string $gmt ): ?string {
	return ( '' === $gmt || str_starts_with( $gmt, '0000-00-00' ) ) ? null : str_replace( ' ', 'T', $gmt );
}

/**
 * The webhook-signature header value for one send.
 */
function sign( string $key, string $id, int $timestamp, string $body ): string {
	return 'v1,' . base64_encode( hash_hmac( 'sha256', $id . '.' . $timestamp . '.' . $body, $key, true ) );
}

/**
 * POST one delivery to relay, signed with a fresh timestamp.
 *
 * @return array{ok: bool, retry: bool, status: int, message: string}
 */
function send_webhook( string $id, string $body ): array {
	$s   = settings();
	$key = signing_key( $s['secret'] );
	if ( null === $key || '' === $s['relay_url'] ) {
		return result( false, false, 0, __( 'Relay Connector is not set up yet: enter relay’s address and the secret key under Settings → Relay.', 'relay-connector' ) );
	}
	$timestamp = time();
	$response  = wp_remote_post(
		$s['relay_url'] . WEBHOOK_PATH,
		array(
			'timeout'     => SEND_TIMEOUT,
			'redirection' => 0,
			'headers'     => array(
				'Content-Type'      => 'application/json',
				'User-Agent'        => 'relay-connector/' . VERSION . '; ' . home_url( '/' ),
				'webhook-id'        => $id,
				'webhook-timestamp' => (string) $timestamp,
				'webhook-signature' => sign( $key, $id, $timestamp, $body ),
			),
			'body'        => $body,
			'data_format' => 'body',
		)
	);
	if ( is_wp_error( $response ) ) {
		/* translators: %s: the HTTP error */
		return result( false, true, 0, sprintf( __( 'relay could not be reached: %s', 'relay-connector' ), $response->get_error_message() ) );
	}
	$status = (int) wp_remote_retrieve_response_code( $response );
	if ( $status >= 200 && $status < 300 ) {
		return result( true, false, $status, '' );
	}
	// Worth retrying: relay down or busy. Not worth it: a wrong secret, URL or clock (4xx) needs a human.
	$retry = $status >= 500 || in_array( $status, array( 408, 425, 429 ), true );
	/* translators: 1: what went wrong, in plain words; 2: HTTP status; 3: relay's own explanation (English) */
	return result( false, $retry, $status, sprintf( __( '%1$s (relay answered %2$d: %3$s)', 'relay-connector' ), status_in_words( $status ), $status, answer_detail( $response ) ) );
}

/**
 * What an answer of relay means for the site's owner, in their language.
 */
function status_in_words( int $status ): string {
	switch ( true ) {
		case 401 === $status:
			return __( 'The secret key is not the one relay has.', 'relay-connector' );
		case 413 === $status:
			return __( 'This post is too large for relay.', 'relay-connector' );
		case 503 === $status:
			return __( 'Relay is not ready: no secret key is set on its side, or it is starting.', 'relay-connector' );
		case $status >= 500 || in_array( $status, array( 408, 425, 429 ), true ):
			return __( 'Relay is down or busy; WordPress will try again.', 'relay-connector' );
		case 404 === $status:
			return __( 'Nothing answers as relay at this address: check it.', 'relay-connector' );
		default:
			return __( 'Relay refused this post.', 'relay-connector' );
	}
}

/**
 * The name of what happened to a post, for the failure notice.
 */
function event_in_words( string $event ): string {
	$names = array(
		'publish'   => __( 'published', 'relay-connector' ),
		'update'    => __( 'updated', 'relay-connector' ),
		'trash'     => __( 'moved to the trash', 'relay-connector' ),
		'unpublish' => __( 'unpublished', 'relay-connector' ),
	);
	return $names[ $event ] ?? $event;
}

/**
 * Relay's explanation of an error: the problem+json "detail", else the status text.
 *
 * @param array|\WP_Error $response The HTTP response.
 */
function answer_detail( $response ): string {
	$data = json_decode( (string) wp_remote_retrieve_body( $response ), true );
	if ( is_array( $data ) ) {
		foreach ( array( 'detail', 'title', 'message' ) as $field ) {
			if ( isset( $data[ $field ] ) && is_string( $data[ $field ] ) && '' !== $data[ $field ] ) {
				return $data[ $field ];
			}
		}
	}
	$message = wp_remote_retrieve_response_message( $response );
	return '' !== $message ? $message : __( 'no explanation', 'relay-connector' );
}

/**
 * @return array{ok: bool, retry: bool, status: int, message: string}
 */
function result( bool $ok, bool $retry, int $status, string $message ): array {
	return array(
		'ok'      => $ok,
		'retry'   => $retry,
		'status'  => $status,
		'message' => $message,
	);
}
