// The spec's own examples (SData 1.1 sync 5.2), transcribed from the spec page (http://sage.github.io/SData-2.0/pages/sync/0502/) with the HTML removed
// (entities decoded, &nbsp; as spaces, the <a> links inside comments dropped). Small texts, kept in code.

/** The 5.2 POST body: the target's `$syncDigest` entry (its digest is the 4.2 example's). */
export const DIGEST_ENTRY_5_2 = `<entry xmlns="http://www.w3.org/2005/Atom">
  <id>http://www.example.com/sdata/myApp2/myContract/-/accounts/$syncDigest</id>
  <title>Synchronization digest</title>
  <updated>2008-03-31T13:46:45Z</updated>
  <link rel="self" type="application/atom+xml; type=entry" title="Refresh"
        href="http://www.example.com/sdata/myApp2/myContract/-/accounts/$syncDigest" />
  <payload xmlns="http://schemas.sage.com/sdata/2008/1">
    <digest xmlns="http://schemas.sage.com/sdata/sync/2008/1">
      <origin>http://www.example.com/sdata/myApp1/myContract/-/accounts</origin>
      <digestEntry>
        <endpoint>http://www.example.com/sdata/myApp1/myContract/-/accounts</endpoint>
        <tick>5</tick>
        <stamp>2008-10-30T14:52:03.281Z</stamp>
        <conflictPriority>2</conflictPriority>
      </digestEntry>
      <digestEntry>
        <endpoint>http://www.example.com/sdata/myApp2/myContract/-/accounts</endpoint>
        <tick>11</tick>
        <stamp>2008-10-30T13:46:45Z</stamp>
        <conflictPriority>1</conflictPriority>
      </digestEntry>
      <digestEntry>
        <endpoint>http://www.example.com/sdata/sageApp3/test/-/accounts</endpoint>
        <tick>8</tick>
        <stamp>2008-10-30T12:40:25Z</stamp>
        <conflictPriority>3</conflictPriority>
      </digestEntry>
    </digest>
  </payload>
</entry>`;

const PAGE_HEAD = `<feed xmlns="http://www.w3.org/2005/Atom" xmlns:sdata="http://schemas.sage.com/sdata/2008/1">

  <title>Account synchronization feed DD052E5C-BFAD-4ffa-8D54-D696E4959497</title>
  <id>http://www.example.com/sdata/myApp1/myContract/-/accounts/$syncSource('DD052E5C-BFAD-4ffa-8D54-D696E4959497')</id>
  <updated>2008-03-31T13:46:45Z</updated>
  <link rel="self" type="application/atom+xml; type=feed" title="Refresh"
        href="http://www.example.com/sdata/myApp1/myContract/-/accounts/$syncSource('DD052E5C-BFAD-4ffa-8D54-D696E4959497')" />
  <link rel="first" type="application/atom+xml; type=feed" title="First Page"
        href="http://www.example.com/sdata/myApp1/myContract/-/accounts/$syncSource('DD052E5C-BFAD-4ffa-8D54-D696E4959497')" />
  <link rel="next" type="application/atom+xml; type=feed" title="NextPage"
        href="http://www.example.com/sdata/myApp1/myContract/-/accounts/$syncSource('DD052E5C-BFAD-4ffa-8D54-D696E4959497')
?startIndex=11&amp;count=10" />

  <syncMode xmlns="http://schemas.sage.com/sdata/sync/2008/1">catchUp</syncMode>

  <!-- Digest -->
  <digest xmlns="http://schemas.sage.com/sdata/sync/2008/1">
    <origin>http://www.example.com/sdata/myApp1/myContract/-/accounts</origin>
    <digestEntry>
      <endpoint>http://www.example.com/sdata/myApp1/myContract/-/accounts</endpoint>
      <tick>6</tick>
      <stamp>2008-10-30T17:23:08Z</stamp>
      <conflictPriority>2</conflictPriority>
    </digestEntry>
    <digestEntry>
      <endpoint>http://www.example.com/sdata/myApp2/myContract/-/accounts</endpoint>
      <tick>10</tick>
      <stamp>2008-10-30T12:16:51Z</stamp>
      <conflictPriority>1</conflictPriority>
    </digestEntry>
    <digestEntry>
      <endpoint>http://www.example.com/sdata/sageApp3/test/-/accounts</endpoint>
      <tick>10</tick>
      <stamp>2008-10-30T16:47:03Z</stamp>
      <conflictPriority>3</conflictPriority>
    </digestEntry>
   </digest>

  <!-- Entry -->
  <entry>
    <id/>
    <title/>
    <updated>2008-10-30T14:55:43.281Z</updated>
    <content/>

    <!-- Per-Resource Synchronization State -->
    <syncState xmlns="http://schemas.sage.com/sdata/sync/2008/1">
      <endpoint>http://www.example.com/sdata/myApp1/myContract/-/accounts</endpoint>
      <tick>5</tick>
      <stamp>2008-10-30T14:55:43.281Z</stamp>
    </syncState>

    <!-- XML payload -->
    <payload xmlns="http://schemas.sage.com/sdata/2008/1">
      <account sdata:uuid="74926A0D-D2C0-4daa-9986-47C833691569" xmlns="http://schemas.sage.com/myContract">
        <name>Natural Goods Ltd.</name>
        <!-- more account data -->
      </account>
    </payload>
`;

const STRAY = `
    </payload>
`;

const PAGE_TAIL = `  </entry>

  <!-- Entry -->
  <entry>
    <id>http://www.example.com/sdata/myApp1/myContract/-/accounts('23552')</id>
    <title>Account Chemical Bros</title>
    <updated>2008-05-25T13:27:19.207Z</updated>
    <content>Account Chemical Bros</content>

    <!-- Per-Resource Synchronization State -->
    <syncState xmlns="http://schemas.sage.com/sdata/sync/2008/1">
      <endpoint>http://www.example.com/sdata/sageApp3/test/-/accounts</endpoint>
      <tick>8</tick>
      <stamp>2008-10-30T13:27:19.207Z</stamp>
    </syncState>

    <!-- XML payload -->
    <payload xmlns="http://schemas.sage.com/sdata/2008/1">
      <account sdata:uuid="C4411795-9943-4cf4-8705-51A74C9F0ACC" xmlns="http://schemas.sage.com/myContract">
        <name>Chemical Brothers Inc.</name>
        <!-- more account data -->
      </account>
    </payload>

  </entry>

  <!-- ... more entries ... -->
</feed>
`;

/** As published: the first entry closes `payload` twice (docs/protocol.md A4). Must be rejected. */
export const PAGE_5_2_PUBLISHED = PAGE_HEAD + STRAY + PAGE_TAIL;
/** With the stray end tag removed, as 4.4 shows it. */
export const PAGE_5_2_CORRECTED = PAGE_HEAD + '\n' + PAGE_TAIL;
/** Line of the stray `</payload>` in the published text (1-based). */
export const STRAY_LINE = PAGE_HEAD.split('\n').length + 1;

export const EP = {
  myApp1: 'http://www.example.com/sdata/myApp1/myContract/-/accounts',
  myApp2: 'http://www.example.com/sdata/myApp2/myContract/-/accounts',
  sageApp3: 'http://www.example.com/sdata/sageApp3/test/-/accounts',
} as const;
