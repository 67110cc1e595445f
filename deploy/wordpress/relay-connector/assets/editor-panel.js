/**
 * Relay Connector: the "Share on X" panel of the block editor.
 *
 * Plain JavaScript on WordPress's globals (wp.plugins, wp.editPost, wp.element,
 * wp.components, wp.data, wp.apiFetch): no build step. The words come translated from
 * PHP (window.relayConnector.strings). The preview and the status are asked of this
 * site's REST routes, which ask relay: relay's key never reaches the browser.
 */
( function ( wp, config ) {
	'use strict';
	if ( ! wp || ! wp.plugins || ! wp.editPost || ! config ) {
		return;
	}
	var el = wp.element.createElement;
	var useState = wp.element.useState;
	var useEffect = wp.element.useEffect;
	var components = wp.components;
	var useSelect = wp.data.useSelect;
	var useDispatch = wp.data.useDispatch;
	var t = config.strings;

	function format( template ) {
		var values = Array.prototype.slice.call( arguments, 1 );
		return template.replace( /%(\d+)\$[sd]|%[sd]/g, function ( match, position ) {
			var index = position ? parseInt( position, 10 ) - 1 : 0;
			return String( values[ index ] );
		} );
	}

	// The post on each network relay posted it to (older relays answer only tweet_url).
	function linksOf( status ) {
		if ( status.links && status.links.length ) {
			return status.links.map( function ( link ) {
				return { url: link.url, label: link.network === 'X' ? t.viewOnX : format( t.viewOn, link.network ) };
			} );
		}
		return status.tweet_url ? [ { url: status.tweet_url, label: t.viewOnX } ] : [];
	}

	function Preview( props ) {
		var state = useState( { loading: false, data: null, error: false } );
		var preview = state[ 0 ];
		var setPreview = state[ 1 ];
		useEffect( function () {
			var cancelled = false;
			var timer = setTimeout( function () {
				setPreview( { loading: true, data: preview.data, error: false } );
				wp.apiFetch( {
					path: config.restPath + '/preview/' + props.postId,
					method: 'POST',
					data: { message: props.message, title: props.title, share: props.share },
				} ).then( function ( data ) {
					if ( ! cancelled ) {
						setPreview( { loading: false, data: data, error: false } );
					}
				} ).catch( function () {
					if ( ! cancelled ) {
						setPreview( { loading: false, data: null, error: true } );
					}
				} );
			}, 700 );
			return function () {
				cancelled = true;
				clearTimeout( timer );
			};
		}, [ props.postId, props.message, props.title, props.share ] );

		var children = [ el( 'p', { key: 'h' }, el( 'strong', null, t.preview ) ) ];
		if ( preview.error ) {
			children.push( el( 'p', { key: 'e', className: 'relay-connector-error' }, t.error ) );
		} else if ( preview.data ) {
			children.push( el( 'div', {
				key: 't',
				className: 'relay-connector-tweet',
				style: { whiteSpace: 'pre-wrap', wordBreak: 'break-word', border: '1px solid #ddd', borderRadius: '4px', padding: '8px', background: '#f6f7f7' },
			}, preview.data.text ) );
			children.push( el( 'p', { key: 'c', className: 'relay-connector-count' },
				format( t.count, preview.data.weighted_length, preview.data.max_length ) ) );
			if ( preview.data.cut ) {
				children.push( el( 'p', { key: 'l', className: 'relay-connector-too-long', style: { color: '#b32d2e' } }, t.tooLong ) );
			}
		} else {
			children.push( el( 'p', { key: 'w' }, t.loading ) );
		}
		return el( 'div', { className: 'relay-connector-preview', 'aria-live': 'polite' }, children );
	}

	function Status( props ) {
		var state = useState( null );
		var status = state[ 0 ];
		var setStatus = state[ 1 ];
		useEffect( function () {
			wp.apiFetch( { path: config.restPath + '/status/' + props.postId } ).then( setStatus ).catch( function () {
				setStatus( { error: true } );
			} );
		}, [ props.postId ] );
		if ( ! status ) {
			return null;
		}
		if ( status.error ) {
			return el( 'p', null, t.error );
		}
		var children = [
			el( 'p', { key: 'h' }, el( 'strong', null, t.status ), ' ', t.statusNames[ status.status ] || status.status ),
		];
		linksOf( status ).forEach( function ( link, index ) {
			children.push( el( 'p', { key: 'link-' + index }, el( components.ExternalLink, { href: link.url }, link.label ) ) );
		} );
		if ( status.known ) {
			children.push( el( 'p', { key: 'k' }, format( t.clicks, status.human_clicks || 0 ) ) );
		}
		return el( 'div', { className: 'relay-connector-status' }, children );
	}

	function Panel() {
		var post = useSelect( function ( select ) {
			var editor = select( 'core/editor' );
			return {
				id: editor.getCurrentPostId(),
				type: editor.getCurrentPostType(),
				title: editor.getEditedPostAttribute( 'title' ) || '',
				meta: editor.getEditedPostAttribute( 'meta' ) || {},
				published: editor.isCurrentPostPublished(),
			};
		}, [] );
		var editPost = useDispatch( 'core/editor' ).editPost;
		if ( post.type !== 'post' ) {
			return null;
		}
		var share = post.meta[ config.metaKeys.share ] !== false;
		var message = post.meta[ config.metaKeys.message ] || '';
		function setMeta( key, value ) {
			var change = {};
			change[ key ] = value;
			editPost( { meta: change } );
		}
		var children = [
			el( components.ToggleControl, {
				key: 'share',
				label: t.share,
				checked: share,
				onChange: function ( value ) { setMeta( config.metaKeys.share, value ); },
			} ),
		];
		if ( share ) {
			children.push( el( components.TextareaControl, {
				key: 'message',
				label: t.message,
				help: t.messageHelp,
				value: message,
				maxLength: config.maxChars,
				rows: 4,
				onChange: function ( value ) { setMeta( config.metaKeys.message, value ); },
			} ) );
			children.push( el( Preview, { key: 'preview', postId: post.id, message: message, title: post.title, share: share } ) );
		} else {
			children.push( el( 'p', { key: 'off' }, t.notShared ) );
		}
		if ( post.published ) {
			children.push( el( Status, { key: 'status', postId: post.id } ) );
		}
		return el( wp.editPost.PluginDocumentSettingPanel, {
			name: 'relay-connector',
			title: t.panelTitle,
			className: 'relay-connector-panel',
		}, children );
	}

	wp.plugins.registerPlugin( 'relay-connector', { render: Panel, icon: null } );
}( window.wp, window.relayConnector ) );
