/**
 * Relay Connector: the "Share on X" meta box of the classic editor (same fields as the
 * block editor's panel). The preview and the status are asked of this site's REST routes.
 */
( function ( wp, config ) {
	'use strict';
	if ( ! wp || ! wp.apiFetch || ! config ) {
		return;
	}
	var t = config.strings;
	var share = document.getElementById( 'relay-connector-share' );
	var message = document.getElementById( 'relay-connector-message' );
	var preview = document.getElementById( 'relay-connector-preview' );
	var count = document.getElementById( 'relay-connector-count' );
	var refresh = document.getElementById( 'relay-connector-refresh' );
	var status = document.getElementById( 'relay-connector-status' );
	var title = document.getElementById( 'title' );
	var timer = null;

	function format( template ) {
		var values = Array.prototype.slice.call( arguments, 1 );
		return template.replace( /%(\d+)\$[sd]|%[sd]/g, function ( match, position ) {
			return String( values[ position ? parseInt( position, 10 ) - 1 : 0 ] );
		} );
	}

	function ask() {
		if ( ! share.checked ) {
			preview.textContent = t.notShared;
			count.textContent = '';
			return;
		}
		preview.textContent = t.loading;
		var data = { message: message.value, share: true };
		if ( title ) {
			data.title = title.value;
		}
		wp.apiFetch( { path: config.restPath + '/preview/' + config.postId, method: 'POST', data: data } )
			.then( function ( answer ) {
				preview.textContent = answer.text;
				count.textContent = format( t.count, answer.weighted_length, answer.max_length ) +
					( answer.cut ? ' — ' + t.tooLong : '' );
			} )
			.catch( function () {
				preview.textContent = t.error;
				count.textContent = '';
			} );
	}

	function later() {
		clearTimeout( timer );
		timer = setTimeout( ask, 700 );
	}

	[ share, message, title ].forEach( function ( field ) {
		if ( field ) {
			field.addEventListener( 'input', later );
			field.addEventListener( 'change', later );
		}
	} );
	refresh.addEventListener( 'click', ask );
	ask();

	if ( status ) {
		wp.apiFetch( { path: config.restPath + '/status/' + config.postId } ).then( function ( answer ) {
			var line = document.createElement( 'p' );
			line.textContent = t.statusNames[ answer.status ] || answer.status;
			status.appendChild( line );
			var links = answer.links && answer.links.length ? answer.links.map( function ( found ) {
				return { url: found.url, label: found.network === 'X' ? t.viewOnX : format( t.viewOn, found.network ) };
			} ) : ( answer.tweet_url ? [ { url: answer.tweet_url, label: t.viewOnX } ] : [] );
			links.forEach( function ( found ) {
				var line = document.createElement( 'p' );
				var link = document.createElement( 'a' );
				link.href = found.url;
				link.target = '_blank';
				link.rel = 'noopener noreferrer';
				link.textContent = found.label;
				line.appendChild( link );
				status.appendChild( line );
			} );
			if ( answer.known ) {
				var clicks = document.createElement( 'p' );
				clicks.textContent = format( t.clicks, answer.human_clicks || 0 );
				status.appendChild( clicks );
			}
		} ).catch( function () {
			status.textContent = t.error;
		} );
	}
}( window.wp, window.relayConnector ) );
