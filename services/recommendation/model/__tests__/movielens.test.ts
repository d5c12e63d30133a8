import { CsvFormatError, parseMovies, parseRatings, splitCsvLine } from '../movielens';
import type { Interaction } from '..';

async function ratings(
  text: string,
  options: Parameters<typeof parseRatings>[1] = {},
): Promise<Interaction[]> {
  const out: Interaction[] = [];
  for await (const interaction of parseRatings(text.split('\n'), options)) out.push(interaction);
  return out;
}

describe('MovieLens ratings.csv', () => {
  const csv = [
    'userId,movieId,rating,timestamp',
    '1,31,2.5,1260759144',
    '1,1029,4.0,1260759179',
    '2,10,5.0,835355493',
    '',
    '3,10,3.5,835355681',
  ].join('\n');

  it('keeps ratings of at least 4 as interactions, timestamps in ms', async () => {
    expect(await ratings(csv)).toEqual([
      { userId: '1', eventId: '1029', at: 1260759179000 },
      { userId: '2', eventId: '10', at: 835355493000 },
    ]);
  });

  it('takes the threshold and a user limit as options, and columns in any order', async () => {
    expect((await ratings(csv, { minRating: 3.5 })).map((i) => i.userId)).toEqual(['1', '2', '3']);
    expect((await ratings(csv, { maxUsers: 1, minRating: 0 })).map((i) => i.eventId)).toEqual(['31', '1029']);
    const reordered = '\uFEFFtimestamp,rating,movieId,userId\r\n100,4.5,7,9\r\n';
    expect(await ratings(reordered)).toEqual([{ userId: '9', eventId: '7', at: 100_000 }]);
  });

  it.each([
    [
      'a rating that is not a number',
      '1,10,good,835355493',
      'ratings.csv line 2: rating "good" is not a number',
    ],
    ['a missing field', '1,10,4.0', 'ratings.csv line 2: expected 4 fields, found 3'],
    ['an empty user', ',10,4.0,835355493', 'ratings.csv line 2: userId is empty'],
    [
      'a bad timestamp',
      '1,10,4.0,yesterday',
      'ratings.csv line 2: timestamp "yesterday" is not a time in seconds',
    ],
  ])('stops at %s, naming the line', async (_what, line, message) => {
    const read = ratings(`userId,movieId,rating,timestamp\n${line}\n2,10,4,1`);
    await expect(read).rejects.toThrow(CsvFormatError);
    await expect(ratings(`userId,movieId,rating,timestamp\n${line}\n2,10,4,1`)).rejects.toThrow(message);
  });

  it('names the right line after blank lines, and the file it was given', async () => {
    await expect(
      ratings('userId,movieId,rating,timestamp\n\n1,2,4,5\n1,2,x,5', { file: 'ml-25m/ratings.csv' }),
    ).rejects.toThrow('ml-25m/ratings.csv line 4: rating "x" is not a number');
  });

  it('refuses a file without the header, or an empty one', async () => {
    await expect(ratings('1,31,2.5,1260759144')).rejects.toThrow(
      'ratings.csv line 1: the header has no userId column',
    );
    await expect(ratings('')).rejects.toThrow('the file is empty');
  });
});

describe('MovieLens movies.csv', () => {
  it('reads quoted titles with commas and quotes, and |-separated genres', async () => {
    const csv = [
      'movieId,title,genres',
      '1,Toy Story (1995),Adventure|Animation|Children',
      '11,"American President, The (1995)",Comedy|Drama|Romance',
      '12,"Dracula: Dead and Loving It ""Uncut"" (1995)",(no genres listed)',
    ];
    expect(await parseMovies(csv)).toEqual([
      { eventId: '1', title: 'Toy Story (1995)', genres: ['Adventure', 'Animation', 'Children'] },
      { eventId: '11', title: 'American President, The (1995)', genres: ['Comedy', 'Drama', 'Romance'] },
      { eventId: '12', title: 'Dracula: Dead and Loving It "Uncut" (1995)', genres: [] },
    ]);
  });

  it('names the line of an unclosed quote or a stray character', async () => {
    await expect(parseMovies(['movieId,title,genres', '1,"Open title,Drama'])).rejects.toThrow(
      'movies.csv line 2: a quoted field is not closed',
    );
    await expect(parseMovies(['movieId,title,genres', '1,"A"b,Drama'])).rejects.toThrow(
      'movies.csv line 2: unexpected "b" after a quoted field',
    );
  });

  it('splits CSV lines with empty fields', () => {
    expect(splitCsvLine('a,,"",b', 'f', 1)).toEqual(['a', '', '', 'b']);
    expect(splitCsvLine('"x"', 'f', 1)).toEqual(['x']);
  });
});
